//! Identities: every namespaced object is `kind<namespace, name>` (seed 000/001, "Namespace,
//! Name and Identity"). Rule 1.1.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Why a `namespace/name` string could not be parsed as an identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentParseError(pub String);

impl fmt::Display for IdentParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected `namespace/name`, got `{}`", self.0)
    }
}

impl std::error::Error for IdentParseError {}

macro_rules! ident {
    ($(#[$doc:meta])* $ty:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty {
            /// The namespace the object lives in.
            pub namespace: String,
            /// The object's name, unique within its kind and namespace.
            pub name: String,
        }

        impl $ty {
            /// The kind as the source design writes it (`pod<namespace, name>`).
            pub const KIND: &'static str = $kind;

            /// An identity from its two parts.
            pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
                Self { namespace: namespace.into(), name: name.into() }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}/{}", self.namespace, self.name)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}<{}, {}>", $kind, self.namespace, self.name)
            }
        }

        impl FromStr for $ty {
            type Err = IdentParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.split_once('/') {
                    Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                        Ok(Self::new(ns, name))
                    }
                    _ => Err(IdentParseError(s.to_string())),
                }
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

ident!(
    /// `pod<namespace, name>`.
    PodId,
    "pod"
);
ident!(
    /// `service<namespace, name>`.
    ServiceId,
    "service"
);
ident!(
    /// `networkPolicy<namespace, name>`.
    PolicyId,
    "networkPolicy"
);

ident!(
    /// A namespaced object's identity, `namespace/name`: an Ingress, a Gateway, a
    /// ReferenceGrant (rules 6.19, 6.25).
    ObjectId,
    "object"
);

/// A connection's identifier; `0` is never used, as in the source design's `<false, 0>`.
pub type ConnectionId = u64;

#[cfg(test)]
mod tests {
    use super::*;

    // Rule 1.1: identities print as namespace/name and parse back.
    #[test]
    fn r1_1_identity_round_trip() {
        let p: PodId = "prod/web-0".parse().unwrap();
        assert_eq!(p, PodId::new("prod", "web-0"));
        assert_eq!(p.to_string(), "prod/web-0");
        assert_eq!(format!("{p:?}"), "pod<prod, web-0>");
        assert!("noslash".parse::<PodId>().is_err());
        assert!("/x".parse::<ServiceId>().is_err());
        assert!("a/b/c".parse::<PolicyId>().is_err());
    }
}
