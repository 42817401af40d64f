//! Protocols, ports and addresses in IP address domains (seed 000, "Step 2: Overlapping address
//! space"). Rules 3.x and 8.x.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The name of the default IP address domain, and of the cluster network that lives in it.
pub const DEFAULT_DOMAIN: &str = "default";
/// The cluster's primary network, attached to every pod's `eth0`.
pub const DEFAULT_NETWORK: &str = "default";
/// The interface of a pod's primary attachment.
pub const PRIMARY_INTERFACE: &str = "eth0";

/// A transport protocol. Kubernetes defines TCP, UDP and SCTP; anything else (ICMP, …) is
/// `Other` and treated as the profile's `other_protocols` says (rule 7.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
    /// Any other IP protocol, by number (ICMP is 1, ICMPv6 is 58). Such protocols have no ports.
    Other(u8),
}

impl Protocol {
    /// TCP, the default protocol of every port in the API (container, Service and policy
    /// ports, rules 5.7, 6.2) and of every trace operation.
    pub fn tcp() -> Protocol {
        Protocol::Tcp
    }

    /// The three protocols NetworkPolicy and Service ports can name.
    pub const PORTED: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    /// Whether the protocol is one Kubernetes defines (and so carries ports).
    pub fn is_kubernetes(self) -> bool {
        !matches!(self, Protocol::Other(_))
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Tcp => f.write_str("TCP"),
            Protocol::Udp => f.write_str("UDP"),
            Protocol::Sctp => f.write_str("SCTP"),
            Protocol::Other(1) => f.write_str("ICMP"),
            Protocol::Other(58) => f.write_str("ICMPv6"),
            Protocol::Other(n) => write!(f, "IP/{n}"),
        }
    }
}

/// Why a protocol name was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolParseError(pub String);

impl fmt::Display for ProtocolParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unsupported protocol `{}`: expected TCP, UDP, SCTP, ICMP, ICMPv6 or IP/<number>",
            self.0
        )
    }
}

impl std::error::Error for ProtocolParseError {}

impl FromStr for Protocol {
    type Err = ProtocolParseError;
    /// Exact spelling, as the API server requires (`tcp` is rejected, rule 9.2).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "TCP" => Ok(Protocol::Tcp),
            "UDP" => Ok(Protocol::Udp),
            "SCTP" => Ok(Protocol::Sctp),
            "ICMP" => Ok(Protocol::Other(1)),
            "ICMPv6" => Ok(Protocol::Other(58)),
            _ => s
                .strip_prefix("IP/")
                .and_then(|n| n.parse::<u8>().ok())
                .filter(|&n| ![6, 17, 132].contains(&n))
                .map(Protocol::Other)
                .ok_or_else(|| ProtocolParseError(s.to_string())),
        }
    }
}

impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Protocol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A port given by number or by container-port name (`IntOrString` in Kubernetes).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PortRef {
    /// A port number.
    Number(u16),
    /// A container port's name, resolved on the destination pod (rule 5.9).
    Name(String),
}

impl fmt::Display for PortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortRef::Number(n) => write!(f, "{n}"),
            PortRef::Name(s) => f.write_str(s),
        }
    }
}

/// An IP address within an IP address domain: the same IP in two domains is two addresses
/// (rule 3.2). Written `10.0.0.1` in the default domain and `10.0.0.1%blue` elsewhere, like an
/// IPv6 zone.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    /// The IP address domain (`ip_address_domain<name>`).
    pub domain: String,
    /// The IP address, v4 or v6.
    pub ip: IpAddr,
}

impl Address {
    /// An address in the given domain.
    pub fn new(domain: impl Into<String>, ip: IpAddr) -> Self {
        Self {
            domain: domain.into(),
            ip,
        }
    }

    /// An address in the default domain.
    pub fn default_domain(ip: IpAddr) -> Self {
        Self::new(DEFAULT_DOMAIN, ip)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.domain == DEFAULT_DOMAIN {
            write!(f, "{}", self.ip)
        } else {
            write!(f, "{}%{}", self.ip, self.domain)
        }
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why an address string was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressParseError(pub String);

impl fmt::Display for AddressParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected an IP address, optionally `%domain`, got `{}`",
            self.0
        )
    }
}

impl std::error::Error for AddressParseError {}

impl FromStr for Address {
    type Err = AddressParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (ip, domain) = match s.split_once('%') {
            Some((ip, d)) if !d.is_empty() => (ip, d),
            Some(_) => return Err(AddressParseError(s.to_string())),
            None => (s, DEFAULT_DOMAIN),
        };
        let ip = ip.parse().map_err(|_| AddressParseError(s.to_string()))?;
        Ok(Address::new(domain, ip))
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// `network<name, ip_address_domain_name>`: a network whose addresses live in one domain.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Network {
    /// The network's name (for Multus networks, `namespace/name` of the attachment definition).
    pub name: String,
    /// The IP address domain its addresses belong to.
    pub domain: String,
    /// Whether pods use it as their primary network (rules 8.7, 8.11).
    #[serde(default)]
    pub role: NetworkRole,
}

/// What a network is to the pods attached to it (rules 8.7, 8.10, 8.11).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkRole {
    /// A secondary network (a Multus attachment, a secondary user-defined network): filtered by
    /// MultiNetworkPolicies that name it (rule 8.7).
    #[default]
    Secondary,
    /// A pod's primary network: the cluster default network, or a primary user-defined network
    /// (OVN-Kubernetes), which is isolated from every other network (rule 8.11). Filtered by
    /// NetworkPolicy (rule 8.7).
    Primary,
}

impl NetworkRole {
    /// Whether the role is the default one (for `skip_serializing_if`).
    pub fn is_secondary(&self) -> bool {
        *self == NetworkRole::Secondary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r3_2_address_syntax_names_the_domain() {
        let a: Address = "10.0.0.1".parse().unwrap();
        assert_eq!(a.domain, DEFAULT_DOMAIN);
        let b: Address = "10.0.0.1%blue".parse().unwrap();
        assert_eq!(b.domain, "blue");
        assert_ne!(a, b);
        assert_eq!(b.to_string(), "10.0.0.1%blue");
        let c: Address = "fd00::1%red".parse().unwrap();
        assert!(c.ip.is_ipv6());
        assert!("10.0.0.1%".parse::<Address>().is_err());
        assert!("nope".parse::<Address>().is_err());
    }

    #[test]
    fn r9_2_protocol_names_are_exact() {
        assert_eq!("TCP".parse(), Ok(Protocol::Tcp));
        assert!("tcp".parse::<Protocol>().is_err());
        assert_eq!("ICMP".parse(), Ok(Protocol::Other(1)));
        assert_eq!(Protocol::Other(47).to_string(), "IP/47");
        assert_eq!("IP/47".parse(), Ok(Protocol::Other(47)));
        // TCP by number is spelled TCP, so there is one spelling per protocol.
        assert!("IP/6".parse::<Protocol>().is_err());
    }
}
