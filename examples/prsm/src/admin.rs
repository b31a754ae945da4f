//! `POST /ws/admin/users/{user_id}/disconnect`: an administrator
//! disconnects a user everywhere.
//!
//! Every live connection of the user, on every server of the cluster, is
//! closed with the spec's `revoked` code (4006), and every token of theirs
//! issued until now is refused from then on, at the handshake and on
//! refresh ([`WsAuth::revoke_subject_before_now`]); their client fetches a
//! fresh token, which the token issuer may refuse.
//!
//! The caller presents a bearer token (in `Authorization`) verified like a
//! WebSocket token, of an active user whose roles grant
//! [`DISCONNECT_PERM`]: 401 without a valid token, 403 without the
//! permission. Answers are never cached.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, ObjectBuilder, OpenApi, Required, Type};
use wsauth_core::jwt::Verifier;
use wsauth_core::{Authenticator, ClusterError, Principal, UserStatus, WsAuth};

use crate::API;
use crate::store::Shared;

/// The route.
pub const DISCONNECT_PATH: &str = "/ws/admin/users/{user_id}/disconnect";

/// The permission it requires (admins hold every permission).
pub const DISCONNECT_PERM: &str = "users.disconnect";

/// The name of the bearer scheme in the statistics' OpenAPI document.
const BEARER: &str = "bearer";

#[derive(Clone)]
struct Admin {
    server: WsAuth,
    verifier: Verifier,
    store: Shared,
}

/// The admin route, for `server`'s users.
pub(crate) fn routes(server: WsAuth, verifier: Verifier, store: Shared) -> Router {
    Router::new()
        .route(DISCONNECT_PATH, post(disconnect))
        .with_state(Admin {
            server,
            verifier,
            store,
        })
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error(status: StatusCode, message: &str) -> Response {
    answer(status, serde_json::json!({ "error": message }))
}

async fn disconnect(
    State(admin): State<Admin>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = bearer else {
        return error(StatusCode::UNAUTHORIZED, "authentication required");
    };
    let claims = match admin.verifier.authenticate(token).await {
        Ok(claims) => claims,
        Err(e) if e.is_server_error() => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "server error");
        }
        Err(_) => return error(StatusCode::UNAUTHORIZED, "invalid or expired token"),
    };
    let jti = claims.claims.get("jti").and_then(serde_json::Value::as_str);
    if admin.server.is_revoked(&claims.subject, jti, claims.iat) {
        return error(StatusCode::UNAUTHORIZED, "revoked token");
    }
    let principal = Principal::new(Some(&claims.subject), claims.roles, API.roles);
    if admin.store.user_status(&claims.subject) != UserStatus::Active
        || !principal.has(DISCONNECT_PERM)
    {
        tracing::warn!(target: "prsm::audit", admin = %claims.subject, user = %user_id, "disconnect refused: forbidden");
        return error(StatusCode::FORBIDDEN, "forbidden");
    }
    match admin.server.revoke_subject_before_now(&user_id).await {
        Ok(before) => {
            tracing::info!(target: "prsm::audit", admin = %claims.subject, user = %user_id, revoked_before = before, "user disconnected everywhere");
            answer(
                StatusCode::OK,
                serde_json::json!({ "user_id": user_id, "revoked_before": before }),
            )
        }
        Err(ClusterError::Unavailable) => {
            tracing::warn!(target: "prsm::audit", admin = %claims.subject, user = %user_id, "user disconnected on this server only: redis unreachable");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "disconnected on this server only; retry",
            )
        }
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "server error"),
    }
}

/// Adds the route to `doc` (the statistics' OpenAPI document, which
/// declares the bearer scheme).
pub(crate) fn document(doc: &mut OpenApi) {
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(
                        ObjectBuilder::new()
                            .property("error", ObjectBuilder::new().schema_type(Type::String))
                            .required("error"),
                    ))
                    .build(),
            )
            .build()
    };
    let done = ResponseBuilder::new()
        .description("Disconnected everywhere; tokens issued until `revoked_before` are refused")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .property("user_id", ObjectBuilder::new().schema_type(Type::String))
                        .property(
                            "revoked_before",
                            ObjectBuilder::new()
                                .schema_type(Type::Integer)
                                .description(Some("Unix seconds: tokens with an earlier or equal `iat` are refused")),
                        )
                        .required("user_id")
                        .required("revoked_before"),
                ))
                .build(),
        )
        .build();
    let operation = OperationBuilder::new()
        .summary(Some("Disconnect a user everywhere"))
        .description(Some(format!(
            "Closes every live connection of the user on every server with 4006 (`revoked`) \
             and refuses their tokens issued until now. Requires a bearer token whose roles \
             grant `{DISCONNECT_PERM}`. Responses are never cached."
        )))
        .operation_id(Some("disconnect_user"))
        .tag(API.name)
        .security(SecurityRequirement::new(BEARER, Vec::<String>::new()))
        .parameter(
            ParameterBuilder::new()
                .name("user_id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
        )
        .response("200", done)
        .response("401", error("No token, or the token is invalid or expired"))
        .response(
            "403",
            error(&format!(
                "The user is inactive or their roles do not grant `{DISCONNECT_PERM}`"
            )),
        )
        .response(
            "503",
            error("The cluster's Redis is unreachable: disconnected on this server only"),
        )
        .response("500", error("The token could not be checked"));
    doc.paths
        .add_path_operation(DISCONNECT_PATH, vec![HttpMethod::Post], operation);
}
