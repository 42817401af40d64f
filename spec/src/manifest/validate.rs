//! The API server's validation, as far as the semantics depends on it (rule 9.2): names, label
//! keys and values, selectors, ports, protocols, CIDRs. The checks and their messages follow
//! apimachinery `pkg/util/validation/validation.go`, `pkg/apis/meta/v1/validation` and
//! kubernetes `pkg/apis/networking/validation/validation.go`.
//!
//! Every check returns an [`Invalid`]: the field path (relative to the object) and a message.

use crate::net::{PortRef, Protocol};
use crate::selector::{LabelSelector, Labels, Operator, Requirement};
use ipnet::IpNet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// A validation failure: where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Invalid {
    /// The field path, `spec.ingress[0].ports[1].endPort` style.
    pub field: String,
    /// What is wrong, naming the bad value.
    pub message: String,
}

impl Invalid {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub(crate) type Check<T = ()> = Result<T, Invalid>;

/// Joins a field path and a child name.
pub(crate) fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// `path[i]`.
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

// ----- character classes -------------------------------------------------------------------

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, without the length limit.
fn is_dns_label_shape(s: &str) -> bool {
    let first_ok = s.chars().next().is_some_and(is_lower_alnum);
    let last_ok = s.chars().last().is_some_and(is_lower_alnum);
    first_ok && last_ok && s.chars().all(|c| is_lower_alnum(c) || c == '-')
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, without the length limit.
fn is_qualified_name_part(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    s.chars().next().is_some_and(alnum)
        && s.chars().last().is_some_and(alnum)
        && s.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
}

// ----- names (apimachinery IsDNS1123Label, IsDNS1123Subdomain, IsDNS1035Label) --------------

/// `IsDNS1123Label`: at most 63 characters of `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
pub(crate) fn dns1123_label(value: &str) -> Result<(), String> {
    if value.len() > 63 {
        return Err(format!("`{value}` must be no more than 63 characters"));
    }
    if !is_dns_label_shape(value) {
        return Err(format!(
            "`{value}` is not a valid DNS-1123 label: it must consist of lower case alphanumeric \
             characters or '-', and must start and end with an alphanumeric character"
        ));
    }
    Ok(())
}

/// `IsDNS1123Subdomain`: at most 253 characters, dot-separated DNS-1123 labels.
pub(crate) fn dns1123_subdomain(value: &str) -> Result<(), String> {
    if value.len() > 253 {
        return Err(format!("`{value}` must be no more than 253 characters"));
    }
    if !value.split('.').all(is_dns_label_shape) {
        return Err(format!(
            "`{value}` is not a valid DNS-1123 subdomain: it must consist of lower case \
             alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
             character"
        ));
    }
    Ok(())
}

/// `IsDNS1035Label`: at most 63 characters of `[a-z]([-a-z0-9]*[a-z0-9])?`.
pub(crate) fn dns1035_label(value: &str) -> Result<(), String> {
    if value.len() > 63 {
        return Err(format!("`{value}` must be no more than 63 characters"));
    }
    if !(is_dns_label_shape(value) && value.starts_with(|c: char| c.is_ascii_lowercase())) {
        return Err(format!(
            "`{value}` is not a valid DNS-1035 label: it must consist of lower case alphanumeric \
             characters or '-', start with an alphabetic character, and end with an alphanumeric \
             character"
        ));
    }
    Ok(())
}

/// How an object's name is validated, per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NameRule {
    /// Pods, policies, most workloads, nodes.
    Subdomain,
    /// Namespaces, StatefulSets.
    Label,
    /// Services.
    Dns1035,
}

/// Validates `metadata.name` by the kind's rule.
pub(crate) fn object_name(name: &str, rule: NameRule) -> Check {
    if name.is_empty() {
        return Err(Invalid::new(
            "metadata.name",
            "Required value: name or generateName is required (netsem needs a name: \
             generateName is not supported)",
        ));
    }
    let r = match rule {
        NameRule::Subdomain => dns1123_subdomain(name),
        NameRule::Label => dns1123_label(name),
        NameRule::Dns1035 => dns1035_label(name),
    };
    r.map_err(|m| Invalid::new("metadata.name", m))
}

/// Validates `metadata.namespace` (a DNS-1123 label).
pub(crate) fn namespace_name(namespace: &str) -> Check {
    dns1123_label(namespace).map_err(|m| Invalid::new("metadata.namespace", m))
}

// ----- labels (IsQualifiedName, IsValidLabelValue) -----------------------------------------

/// `IsQualifiedName`: an optional DNS-1123 subdomain prefix and `/`, then 1–63 characters of
/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?` (rule 4.4).
pub(crate) fn qualified_name(key: &str) -> Result<(), String> {
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                return Err(format!(
                    "Invalid value: {key:?}: prefix part must be non-empty"
                ));
            }
            dns1123_subdomain(prefix)
                .map_err(|m| format!("Invalid value: {key:?}: prefix part {m}"))?;
            *name
        }
        _ => {
            return Err(format!(
                "Invalid value: {key:?}: a qualified name has at most one '/'"
            ))
        }
    };
    if name.is_empty() {
        return Err(format!(
            "Invalid value: {key:?}: name part must be non-empty"
        ));
    }
    if name.len() > 63 {
        return Err(format!(
            "Invalid value: {key:?}: name part must be no more than 63 characters"
        ));
    }
    if !is_qualified_name_part(name) {
        return Err(format!(
            "Invalid value: {key:?}: name part must consist of alphanumeric characters, '-', \
             '_' or '.', and must start and end with an alphanumeric character"
        ));
    }
    Ok(())
}

/// `IsValidLabelValue`: empty, or at most 63 characters of the name pattern (rule 4.4).
pub(crate) fn label_value(value: &str) -> Result<(), String> {
    if value.len() > 63 {
        return Err(format!(
            "Invalid value: {value:?}: must be no more than 63 characters"
        ));
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        return Err(format!(
            "Invalid value: {value:?}: a valid label must be an empty string or consist of \
             alphanumeric characters, '-', '_' or '.', and must start and end with an \
             alphanumeric character"
        ));
    }
    Ok(())
}

/// `ValidateLabels`: every key and value; errors are reported at the map's path.
pub(crate) fn labels(map: &BTreeMap<String, String>, path: &str) -> Check {
    for (k, v) in map {
        qualified_name(k).map_err(|m| Invalid::new(path, m))?;
        label_value(v).map_err(|m| Invalid::new(path, m))?;
    }
    Ok(())
}

/// `ValidateAnnotations`, keys only (values are free text).
pub(crate) fn annotation_keys(map: &BTreeMap<String, String>, path: &str) -> Check {
    for k in map.keys() {
        qualified_name(&k.to_ascii_lowercase()).map_err(|m| Invalid::new(path, m))?;
    }
    Ok(())
}

// ----- selectors (ValidateLabelSelector) ---------------------------------------------------

/// `ValidateLabelSelector` and conversion: keys and values valid, `In`/`NotIn` with values,
/// `Exists`/`DoesNotExist` without (rules 4.1, 4.4).
pub(crate) fn label_selector(sel: &meta::LabelSelector, path: &str) -> Check<LabelSelector> {
    let match_labels = sel.match_labels.clone().unwrap_or_default();
    labels(&match_labels, &child(path, "matchLabels"))?;
    let mut match_expressions = Vec::new();
    for (i, e) in sel.match_expressions.iter().flatten().enumerate() {
        let at = index(&child(path, "matchExpressions"), i);
        qualified_name(&e.key).map_err(|m| Invalid::new(child(&at, "key"), m))?;
        let values = e.values.clone().unwrap_or_default();
        let operator = match e.operator.as_str() {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            other => {
                return Err(Invalid::new(
                    child(&at, "operator"),
                    format!("Invalid value: {other:?}: not a valid selector operator"),
                ))
            }
        };
        let values_path = child(&at, "values");
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => {
                return Err(Invalid::new(
                    values_path,
                    "Required value: must be specified when `operator` is 'In' or 'NotIn'",
                ))
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                return Err(Invalid::new(
                    values_path,
                    "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ))
            }
            _ => {}
        }
        for (j, v) in values.iter().enumerate() {
            label_value(v).map_err(|m| Invalid::new(index(&values_path, j), m))?;
        }
        match_expressions.push(Requirement {
            key: e.key.clone(),
            operator,
            values: values.into_iter().collect(),
        });
    }
    Ok(LabelSelector {
        match_labels,
        match_expressions,
    })
}

/// A Service-style equality selector or a nodeSelector: keys and values of a label map.
pub(crate) fn selector_map(map: &BTreeMap<String, String>, path: &str) -> Check<Labels> {
    labels(map, path)?;
    Ok(map.clone())
}

// ----- ports and protocols -----------------------------------------------------------------

/// `IsValidPortNum`: 1–65535.
pub(crate) fn port_number(n: i32, path: &str) -> Check<u16> {
    u16::try_from(n).ok().filter(|&p| p != 0).ok_or_else(|| {
        Invalid::new(
            path,
            format!("Invalid value: {n}: must be between 1 and 65535, inclusive"),
        )
    })
}

/// `IsValidPortName` (IANA_SVC_NAME): 1–15 characters of `[-a-z0-9]`, at least one letter,
/// no `--`, no leading or trailing `-`.
pub(crate) fn port_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("Invalid value: {name:?}: {why}"));
    if name.is_empty() || name.len() > 15 {
        return bad("must be no more than 15 characters and not empty");
    }
    if !name.chars().all(|c| is_lower_alnum(c) || c == '-') {
        return bad("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    }
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        return bad("must contain at least one letter (a-z)");
    }
    if name.contains("--") {
        return bad("must not contain consecutive hyphens");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return bad("must not begin or end with a hyphen");
    }
    Ok(())
}

/// A protocol as Kubernetes objects spell it: exactly `TCP`, `UDP` or `SCTP`; absent is TCP.
pub(crate) fn protocol(p: Option<&str>, path: &str) -> Check<Protocol> {
    match p {
        None | Some("TCP") => Ok(Protocol::Tcp),
        Some("UDP") => Ok(Protocol::Udp),
        Some("SCTP") => Ok(Protocol::Sctp),
        Some(other) => Err(Invalid::new(
            path,
            format!("Unsupported value: {other:?}: supported values: \"SCTP\", \"TCP\", \"UDP\""),
        )),
    }
}

/// A numeric or named port (`IntOrString`): a valid number or a valid IANA service name.
pub(crate) fn port_ref(p: &IntOrString, path: &str) -> Check<PortRef> {
    match p {
        IntOrString::Int(n) => port_number(*n, path).map(PortRef::Number),
        IntOrString::String(s) => {
            port_name(s).map_err(|m| Invalid::new(path, m))?;
            Ok(PortRef::Name(s.clone()))
        }
    }
}

// ----- CIDRs -------------------------------------------------------------------------------

/// A CIDR as the API server's legacy fields accept it (host bits may be set).
pub(crate) fn cidr(s: &str, path: &str) -> Check<IpNet> {
    if s.is_empty() {
        return Err(Invalid::new(path, "Required value"));
    }
    s.parse::<IpNet>()
        .map_err(|_| Invalid::new(path, format!("`{s}` is not a valid CIDR")))
}

/// `ValidateIPBlock`'s subset test: `except` is inside `cidr` (same family) and strictly
/// smaller.
pub(crate) fn strict_subset(except: &IpNet, cidr: &IpNet) -> bool {
    cidr.contains(&except.network()) && cidr.prefix_len() < except.prefix_len()
}

/// `ValidateNonSpecialIP` (externalIPs, endpoint addresses): not unspecified, loopback,
/// link-local unicast or link-local multicast.
pub(crate) fn non_special_ip(ip: std::net::IpAddr, path: &str) -> Check {
    use std::net::IpAddr;
    let why = match ip {
        _ if ip.is_unspecified() => Some(format!("may not be unspecified ({ip})")),
        _ if ip.is_loopback() => {
            Some("may not be in the loopback range (127.0.0.0/8, ::1/128)".into())
        }
        IpAddr::V4(v4) if v4.is_link_local() => Some(LINK_LOCAL.into()),
        IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => Some(LINK_LOCAL.into()),
        IpAddr::V4(v4) if v4.octets()[..3] == [224, 0, 0] => Some(LINK_LOCAL_MULTICAST.into()),
        IpAddr::V6(v6) if v6.segments()[0] & 0xff0f == 0xff02 => Some(LINK_LOCAL_MULTICAST.into()),
        _ => None,
    };
    match why {
        Some(m) => Err(Invalid::new(path, format!("Invalid value: \"{ip}\": {m}"))),
        None => Ok(()),
    }
}

const LINK_LOCAL: &str = "may not be in the link-local range (169.254.0.0/16, fe80::/10)";
const LINK_LOCAL_MULTICAST: &str =
    "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)";

#[cfg(test)]
mod tests {
    use super::*;

    // Rule 4.4: the label key grammar.
    #[test]
    fn r4_4_label_keys() {
        for ok in ["app", "a.b_c-d", "example.com/app", "k8s.io/x", "A1"] {
            assert!(qualified_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a b",
            "/a",
            "a/",
            "a/b/c",
            "Ex.com/a",
            &"a".repeat(64),
        ] {
            assert!(qualified_name(bad).is_err(), "{bad}");
        }
        assert!(label_value("").is_ok());
        assert!(label_value("v1.2_x").is_ok());
        assert!(label_value("-x").is_err());
        assert!(label_value(&"v".repeat(64)).is_err());
    }

    // Rule 9.2: IANA service names for named ports.
    #[test]
    fn r9_2_port_names() {
        for ok in ["http", "h2", "web-80", "a"] {
            assert!(port_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "HTTP",
            "80",
            "a--b",
            "-a",
            "a-",
            "abcdefghijklmnop",
            "a_b",
        ] {
            assert!(port_name(bad).is_err(), "{bad}");
        }
    }

    // Rule 9.2: object names per kind.
    #[test]
    fn r9_2_names() {
        assert!(dns1123_subdomain("a.b-c").is_ok());
        assert!(dns1123_subdomain("a..b").is_err());
        assert!(dns1123_label("a.b").is_err());
        assert!(dns1035_label("1abc").is_err());
        assert!(dns1035_label("abc1").is_ok());
    }

    // Rule 9.2: except must be a strict subset of cidr, in the same family.
    #[test]
    fn r9_2_strict_subset() {
        let c: IpNet = "10.0.0.0/16".parse().unwrap();
        assert!(strict_subset(&"10.0.1.0/24".parse().unwrap(), &c));
        assert!(!strict_subset(&"10.0.0.0/16".parse().unwrap(), &c));
        assert!(!strict_subset(&"10.1.0.0/24".parse().unwrap(), &c));
        assert!(!strict_subset(&"::/120".parse().unwrap(), &c));
    }
}
