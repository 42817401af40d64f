//! The toy enforcer's property test, with netsem as its oracle: for random clusters, every
//! verdict of the enforcer is netsem's.

use netsem_example_rust_oracle::{Cluster, Pod, Policy};
use netsem_oracle::Oracle;
use netsem_spec::{PodId, Profile, Protocol};
use proptest::prelude::*;
use std::collections::BTreeMap;

const NAMESPACES: [&str; 2] = ["shop", "ops"];
const APPS: [&str; 3] = ["web", "api", "db"];
const PORTS: [u16; 3] = [80, 443, 8080];

fn labels(app: usize) -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_string(), APPS[app].to_string())])
}

fn cluster() -> impl Strategy<Value = Cluster> {
    let pods = prop::collection::vec((0..NAMESPACES.len(), 0..APPS.len()), 1..6);
    let policies = prop::collection::vec(
        (
            0..NAMESPACES.len(),
            0..APPS.len(),
            0..APPS.len(),
            prop::collection::vec(0..PORTS.len(), 0..2),
        ),
        0..4,
    );
    (pods, policies).prop_map(|(pods, policies)| Cluster {
        pods: pods
            .into_iter()
            .enumerate()
            .map(|(i, (ns, app))| Pod {
                namespace: NAMESPACES[ns].into(),
                name: format!("pod-{i}"),
                labels: labels(app),
            })
            .collect(),
        policies: policies
            .into_iter()
            .enumerate()
            .map(|(i, (ns, select, from, ports))| Policy {
                namespace: NAMESPACES[ns].into(),
                name: format!("policy-{i}"),
                select: labels(select),
                from: labels(from),
                ports: ports.into_iter().map(|p| PORTS[p]).collect(),
            })
            .collect(),
    })
}

proptest! {
    #[test]
    fn the_enforcer_agrees_with_netsem(cluster in cluster()) {
        // The oracle: the same cluster, as manifests, under the default profile.
        let oracle = Oracle::from_manifests(&cluster.manifests(), Profile::default())
            .expect("the generated manifests load");
        for (i, from) in cluster.pods.iter().enumerate() {
            for (j, to) in cluster.pods.iter().enumerate() {
                for port in PORTS {
                    let (a, b) = (PodId::new(&from.namespace, &from.name), PodId::new(&to.namespace, &to.name));
                    let expected = oracle.allows_pods(&a, &b, Protocol::Tcp, port).unwrap();
                    prop_assert_eq!(
                        cluster.allows(i, j, port), expected,
                        "{} -> {} port {}\n{}", a, b, port, cluster.manifests()
                    );
                }
            }
        }
    }
}
