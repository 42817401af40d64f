//! Typed errors of the primitives. An operation that returns an error leaves the state exactly
//! as it was (rule 2.9).

use crate::ident::ConnectionId;
use crate::net::Address;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of an [`OpError`], as traces name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The object exists already.
    AlreadyExists,
    /// The object does not exist.
    NotFound,
    /// The address is mapped to another entity in that domain (rule 3.1).
    AddressInUse,
    /// No open connection has that id.
    UnknownConnection,
    /// The address's domain is not the domain of the network it is put on (rule 8.2).
    DomainMismatch,
    /// The object is still referenced (a domain by a network, a network by an address).
    InUse,
    /// The Service has a selector, so its mapping is derived from labels (rule 2.6).
    SelectorManaged,
    /// Neither end of the connection is a pod: the semantics says nothing of it (rule 3.6).
    NoPodEndpoint,
    /// The named backend is not one of the service's possible backends (rule 6.1).
    NotABackend,
    /// A Service address cannot be a connection's source (rule 3.6).
    ServiceAddressAsSource,
    /// A manifest failed to load or validate; nothing of it was applied (rule 9.1).
    InvalidManifest,
}

/// An operation that the state refuses, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpError {
    /// What kind of refusal.
    pub kind: ErrorKind,
    /// A sentence naming the objects involved.
    pub message: String,
}

impl OpError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        OpError {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(kind: &str, what: impl fmt::Display) -> Self {
        Self::new(ErrorKind::NotFound, format!("{kind} {what} does not exist"))
    }

    pub(crate) fn already_exists(kind: &str, what: impl fmt::Display) -> Self {
        Self::new(
            ErrorKind::AlreadyExists,
            format!("{kind} {what} already exists"),
        )
    }

    pub(crate) fn address_in_use(address: &Address, owner: impl fmt::Display) -> Self {
        Self::new(
            ErrorKind::AddressInUse,
            format!("address {address} is already mapped to {owner}"),
        )
    }

    pub(crate) fn unknown_connection(id: ConnectionId) -> Self {
        Self::new(
            ErrorKind::UnknownConnection,
            format!("no open connection has id {id}"),
        )
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for OpError {}
