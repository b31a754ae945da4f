//! The statistics endpoint: connection counts ([`Stats`]), served at the
//! spec's stats path to holders of its permission, and documented in
//! OpenAPI (utoipa).
//!
//! The path and permission come from the spec at run time, so the document
//! is built with utoipa's builders rather than its path macro; the response
//! schemas are derived from the types the endpoint serializes, so they
//! cannot drift from what it sends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref};
use wsauth_spec::{FailureKind, TokenSource};

use crate::audit::{self, AuditContext};
use crate::descriptor::ApiDescriptor;
use crate::identity;
use crate::principal::Principal;
use crate::reject::Rejection;
use crate::token;

use super::WsAuth;

/// Connection counts.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// Open connections.
    pub active_connections: usize,
    /// Users with at least one open connection.
    pub unique_users: usize,
    /// Open connections per endpoint, in spec order.
    pub per_endpoint: Vec<EndpointStats>,
}

/// Open connections on one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct EndpointStats {
    /// Endpoint name.
    pub endpoint: &'static str,
    /// Open connections.
    pub active: usize,
}

impl WsAuth {
    /// `GET` on the spec's stats path: a bearer token in `Authorization`,
    /// verified like a connection's, whose holder has the stats permission.
    pub(super) async fn serve_stats(self, request: Request, perm: &'static str) -> Response {
        use http::StatusCode;
        let deny = |status: StatusCode, body: &'static str| {
            let mut response =
                (status, axum::Json(serde_json::json!({ "error": body }))).into_response();
            response.headers_mut().insert(
                http::header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            );
            response
        };
        let mut audit = AuditContext {
            endpoint: "stats",
            peer: request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
            log: self.shared.audit.clone(),
            ..AuditContext::default()
        };
        let header = [TokenSource::Header];
        let extracted = match token::extract(request.headers(), request.uri(), &header) {
            Ok(extracted) => extracted,
            Err(e) => {
                audit::rejected(&audit, FailureKind::AuthRequired, &e.to_string());
                return deny(StatusCode::UNAUTHORIZED, "authentication required");
            }
        };
        let refused = |audit: &AuditContext, rejection: Rejection| {
            audit::rejected(audit, rejection.kind, &rejection.detail);
            match rejection.kind {
                FailureKind::ServerError => deny(StatusCode::INTERNAL_SERVER_ERROR, "server error"),
                FailureKind::UserInactive => deny(StatusCode::FORBIDDEN, "forbidden"),
                _ => deny(StatusCode::UNAUTHORIZED, "invalid or expired token"),
            }
        };
        let claims =
            match identity::verify(self.shared.authenticator.as_ref(), extracted.token.as_str())
                .await
            {
                Ok(claims) => claims,
                Err(rejection) => return refused(&audit, rejection),
            };
        audit.subject = Some(Arc::from(claims.subject.as_str()));
        if self.shared.users.is_some()
            && let Err(rejection) =
                identity::check_user(self.shared.users.as_ref(), &claims.subject).await
        {
            return refused(&audit, rejection);
        }
        let principal = Principal::new(Some(&claims.subject), claims.roles, self.shared.api.roles);
        if !principal.has(perm) {
            audit::rejected(
                &audit,
                FailureKind::Forbidden,
                &format!("lacks permission `{perm}`"),
            );
            return deny(StatusCode::FORBIDDEN, "forbidden");
        }
        let mut response = axum::Json(self.stats()).into_response();
        response.headers_mut().insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        response
    }

    /// The OpenAPI document of the statistics endpoint, when the spec has one.
    pub fn openapi(&self) -> Option<utoipa::openapi::OpenApi> {
        stats_openapi(self.shared.api)
    }

    /// Current connection counts.
    pub fn stats(&self) -> Stats {
        let per_endpoint: Vec<EndpointStats> = self
            .shared
            .api
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| EndpointStats {
                endpoint: e.name,
                active: self
                    .shared
                    .metrics
                    .endpoint(i)
                    .map_or(0, |c| c.open.load(Ordering::Relaxed)),
            })
            .collect();
        Stats {
            active_connections: per_endpoint.iter().map(|e| e.active).sum(),
            unique_users: self.shared.limiter.unique_users(),
            per_endpoint,
        }
    }
}

/// The security scheme name used in the document.
const BEARER: &str = "bearer";

/// The OpenAPI document of the spec's statistics endpoint; `None` when the
/// spec declares none.
pub fn stats_openapi(api: &ApiDescriptor) -> Option<OpenApi> {
    let stats = api.stats?;
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(
                        utoipa::openapi::ObjectBuilder::new()
                            .property(
                                "error",
                                utoipa::openapi::ObjectBuilder::new()
                                    .schema_type(utoipa::openapi::Type::String),
                            )
                            .required("error"),
                    ))
                    .build(),
            )
            .build()
    };
    let operation = OperationBuilder::new()
        .summary(Some("Connection statistics"))
        .description(Some(format!(
            "Open connections, unique users and connections per endpoint. Requires a bearer \
             token (in `Authorization`) whose roles grant `{}`. Responses are never cached \
             (`Cache-Control: no-store`).",
            stats.perm
        )))
        .operation_id(Some("stats"))
        .tag(api.name)
        .security(SecurityRequirement::new(BEARER, Vec::<String>::new()))
        .response(
            "200",
            ResponseBuilder::new()
                .description("Current connection counts")
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Stats")))
                        .build(),
                )
                .build(),
        )
        .response("401", error("No token, or the token is invalid or expired"))
        .response(
            "403",
            error(&format!("The token's roles do not grant `{}`", stats.perm)),
        )
        .response("500", error("The token or the user could not be checked"));
    let components = ComponentsBuilder::new()
        .schema_from::<Stats>()
        .schema_from::<EndpointStats>()
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        )
        .build();
    Some(
        OpenApiBuilder::new()
            .info(
                InfoBuilder::new()
                    .title(format!("{} statistics", api.name))
                    .version("1")
                    .build(),
            )
            .paths(PathsBuilder::new().path(stats.path, PathItem::new(HttpMethod::Get, operation)))
            .components(Some(components))
            .build(),
    )
}
