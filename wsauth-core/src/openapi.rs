//! The statistics endpoint, documented in OpenAPI (utoipa).
//!
//! The path and permission come from the spec at run time, so the document
//! is built with utoipa's builders rather than its path macro; the response
//! schemas are derived from the types the endpoint serializes, so they
//! cannot drift from what it sends.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref};

use crate::descriptor::ApiDescriptor;
use crate::server::{EndpointStats, Stats};

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
