//! Model checking of the CI universes (issue 5): every property holds, every `sometimes` is
//! discovered, the state counts are pinned (a change in the model's size shows in review), and
//! each deliberately broken pipeline yields a counterexample whose exported trace replays in
//! spec to the same divergence.

use netsem_model::properties::{counterexample_trace, names, violation, Violation};
use netsem_model::{model, Fault, Universe};
use netsem_spec::{replay, SpecEngine};
use stateright::{Checker, Model};

fn check(name: &str) -> (usize, usize) {
    let u = Universe::named(name, Fault::None).expect("named universe");
    let c = model(u).checker().spawn_bfs().join();
    c.assert_properties();
    (c.state_count(), c.unique_state_count())
}

// Rules 5.4, 5.15, 7.4: the pipeline refines spec on consistent views, keeps replies, and
// converges; the policy update lands while a connection is open.
#[test]
fn policy_universe_satisfies_every_property() {
    assert_eq!(check("policy"), (24486, 11057));
}

// Rule 7.4 (established: recheck): connections are cut when policy withdraws them, and only
// then may a reply be dropped.
#[test]
fn policy_strict_universe_satisfies_every_property() {
    assert_eq!(check("policy-strict"), (24486, 11057));
}

// Rules 6.1, 6.5: the mapper picks only current backends, and every backend is picked in some
// run.
#[test]
fn service_universe_satisfies_every_property() {
    assert_eq!(check("service"), (3392, 1293));
}

// The sanity filter: a forged source address never reaches an application.
#[test]
fn spoof_universe_satisfies_every_property() {
    assert_eq!(check("spoof"), (25, 16));
}

// Rules 11.3, 11.4: the tier stages refine spec — an admin Deny beats a NetworkPolicy allow,
// an admin Pass hands on to NetworkPolicy (which allows or denies), and where no NetworkPolicy
// isolates the baseline tier decides; an admin Deny is final even on stale views.
#[test]
fn admin_universe_satisfies_every_property() {
    assert_eq!(check("admin"), (21139, 10419));
}

// Rules 6.12–6.16, 7.10: node proxies translate node ports for a node's own stack (masqueraded)
// and for an outside client (`externalTrafficPolicy: Local`, its address kept; a node without an
// endpoint drops), on the source spec says policy sees, and keep a client's session affinity.
#[test]
fn external_universe_satisfies_every_property() {
    assert_eq!(check("external"), (14137, 4621));
}

/// Checks a broken pipeline: `property` fails, its counterexample exports to a trace, and that
/// trace diverges from spec at its last step, in `field`.
fn broken(name: &str, fault: Fault, property: &'static str, field: &str) {
    let u = Universe::named(name, fault).expect("named universe");
    let c = model(u.clone()).checker().spawn_bfs().join();
    let path = c
        .discovery(property)
        .unwrap_or_else(|| panic!("{fault:?}: no counterexample to `{property}`"));
    let last = path.last_state();
    let v = violation(&u, last).expect("the counterexample's last state violates a property");
    let trace = counterexample_trace(&u, &v).expect("exportable");
    // The trace is a corpus trace: it survives YAML, and spec diverges at its last step.
    let trace = netsem_spec::Trace::parse("exported", &trace.to_yaml()).expect("valid trace");
    let mut spec = SpecEngine::new(trace.profile());
    let d = replay(&mut spec, &trace).expect_err("spec must diverge from the broken pipeline");
    assert_eq!(d.step, trace.steps.len() - 1, "{d}");
    assert!(d.fields.contains(&field), "{d}");
}

#[test]
fn broken_ingress_skipping_the_conntrack_drops_replies() {
    broken(
        "policy",
        Fault::IngressSkipsConntrack,
        names::REPLIES,
        "allowed",
    );
}

#[test]
fn broken_service_mapper_ignoring_removals_picks_a_removed_backend() {
    broken(
        "service",
        Fault::MapperIgnoresRemovals,
        names::SERVICE,
        "error",
    );
}

#[test]
fn broken_sanity_filter_lets_a_forged_packet_through() {
    broken(
        "spoof",
        Fault::NoSanityFilter,
        names::NO_SPOOFING,
        "allowed",
    );
}

#[test]
fn broken_service_mapper_also_never_converges() {
    let u = Universe::named("service", Fault::MapperIgnoresRemovals).unwrap();
    let c = model(u.clone()).checker().spawn_bfs().join();
    let path = c
        .discovery(names::CONVERGENCE)
        .expect("a counterexample to convergence");
    assert!(matches!(
        violation(&u, path.last_state()),
        Some(Violation::Service { .. } | Violation::Convergence { .. })
    ));
}

#[test]
fn broken_tiers_enforcing_pass_as_accept_let_through_what_network_policy_denies() {
    broken("admin", Fault::PassAsAccept, names::REFINEMENT, "allowed");
}

#[test]
fn broken_tiers_running_baseline_before_network_policy_deny_what_it_allows() {
    broken(
        "admin",
        Fault::BaselineBeforeNetworkPolicy,
        names::REFINEMENT,
        "allowed",
    );
}

#[test]
fn broken_tiers_letting_network_policy_overrule_an_admin_deny() {
    broken(
        "admin",
        Fault::NetworkPolicyBeforeAdmin,
        names::ADMIN_DENY_FINAL,
        "allowed",
    );
}

#[test]
fn broken_proxy_ignoring_session_affinity_moves_a_client() {
    broken(
        "external",
        Fault::MapperIgnoresAffinity,
        names::AFFINITY,
        "error",
    );
}
