//! The entry-point lifecycle (rules 6.19, 6.23, 6.25): `addIngress`, `addGateway`,
//! `addRoute`, `addReferenceGrant` and their removals. None of them adds an address or a
//! connection: an entry point's traffic is its controller's (rule 6.19).

use super::{Effects, State};
use crate::entry::{EntryKind, EntryPoint, EntryPointId, ReferenceGrant, Route, RouteId};
use crate::error::OpError;
use crate::ident::ObjectId;

impl State {
    /// Every entry point, in identity order.
    pub fn entry_points(&self) -> impl Iterator<Item = &EntryPoint> {
        self.entry_points.values()
    }

    /// One entry point.
    pub fn entry_point(&self, id: &EntryPointId) -> Option<&EntryPoint> {
        self.entry_points.get(id)
    }

    /// Every route, in identity order (which is the last tie-break of rule 6.24).
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.routes.values()
    }

    /// Every ReferenceGrant.
    pub fn reference_grants(&self) -> impl Iterator<Item = &ReferenceGrant> {
        self.grants.values()
    }

    /// `addIngress` / `addGateway`: a new entry point.
    pub fn add_entry_point(&mut self, entry: EntryPoint) -> Result<Effects, OpError> {
        let id = entry.id();
        if self.entry_points.contains_key(&id) {
            return Err(OpError::already_exists("entry point", &id));
        }
        self.entry_points.insert(id, entry);
        Ok(self.settle())
    }

    /// An entry point added or replaced (an `apply`).
    pub fn put_entry_point(&mut self, entry: EntryPoint) -> Result<Effects, OpError> {
        self.entry_points.insert(entry.id(), entry);
        Ok(self.settle())
    }

    /// `removeIngress` / `removeGateway`. Connections already open through it stay open, as
    /// through a removed Service (rule 6.11).
    pub fn remove_entry_point(&mut self, id: &EntryPointId) -> Result<Effects, OpError> {
        self.entry_points
            .remove(id)
            .ok_or_else(|| OpError::not_found("entry point", id))?;
        Ok(self.settle())
    }

    /// `removeIngress` by `namespace/name`.
    pub fn remove_ingress(&mut self, id: &ObjectId) -> Result<Effects, OpError> {
        self.remove_entry_point(&EntryPointId::new(
            EntryKind::Ingress,
            &id.namespace,
            &id.name,
        ))
    }

    /// `removeGateway` by `namespace/name`.
    pub fn remove_gateway(&mut self, id: &ObjectId) -> Result<Effects, OpError> {
        self.remove_entry_point(&EntryPointId::new(
            EntryKind::Gateway,
            &id.namespace,
            &id.name,
        ))
    }

    /// `addRoute`: a new route.
    pub fn add_route(&mut self, route: Route) -> Result<Effects, OpError> {
        if self.routes.contains_key(&route.id) {
            return Err(OpError::already_exists("route", &route.id));
        }
        self.routes.insert(route.id.clone(), route);
        Ok(self.settle())
    }

    /// A route added or replaced (an `apply`).
    pub fn put_route(&mut self, route: Route) -> Result<Effects, OpError> {
        self.routes.insert(route.id.clone(), route);
        Ok(self.settle())
    }

    /// `removeRoute`.
    pub fn remove_route(&mut self, id: &RouteId) -> Result<Effects, OpError> {
        self.routes
            .remove(id)
            .ok_or_else(|| OpError::not_found("route", id))?;
        Ok(self.settle())
    }

    /// `addReferenceGrant`: a new grant.
    pub fn add_reference_grant(&mut self, grant: ReferenceGrant) -> Result<Effects, OpError> {
        if self.grants.contains_key(&grant.id) {
            return Err(OpError::already_exists("reference grant", &grant.id));
        }
        self.grants.insert(grant.id.clone(), grant);
        Ok(self.settle())
    }

    /// A grant added or replaced (an `apply`).
    pub fn put_reference_grant(&mut self, grant: ReferenceGrant) -> Result<Effects, OpError> {
        self.grants.insert(grant.id.clone(), grant);
        Ok(self.settle())
    }

    /// `removeReferenceGrant`.
    pub fn remove_reference_grant(&mut self, id: &ObjectId) -> Result<Effects, OpError> {
        self.grants
            .remove(id)
            .ok_or_else(|| OpError::not_found("reference grant", id))?;
        Ok(self.settle())
    }
}
