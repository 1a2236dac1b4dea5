//! Forwarding an allowed request to the upstream, and reading the request an auth sub-request
//! stands for.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use kya_verify::http::{HttpError, HttpRequest};

use crate::config::{AuthConfig, AuthProxy};
use crate::decide::{IDENTITY_PREFIX, Identity};

/// Headers that belong to one connection (RFC 9110 §7.6.1), never forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// `http://host[:port]` without a trailing slash, if `url` is a plain http URL with no path.
pub(crate) fn upstream_base(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let host = rest.strip_suffix('/').unwrap_or(rest);
    (!host.is_empty() && !host.contains(['/', '?', '#', '@'])).then(|| format!("http://{host}"))
}

/// Removes every identity header (any case) a client sent, and the hop-by-hop headers.
pub fn strip_untrusted(headers: &mut HeaderMap) {
    let names: Vec<HeaderName> = headers
        .keys()
        .filter(|n| {
            // HeaderName is lowercase already; compare anyway in case that ever changes.
            let n = n.as_str().to_ascii_lowercase();
            n.starts_with(IDENTITY_PREFIX) || HOP_BY_HOP.contains(&n.as_str())
        })
        .cloned()
        .collect();
    for n in names {
        headers.remove(n);
    }
}

/// Removes the hop-by-hop headers of an upstream response.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for n in HOP_BY_HOP {
        headers.remove(n);
    }
}

/// Sets the identity headers of an allowed request; `None` if one cannot be a header value
/// (then the request must not go on without it).
pub(crate) fn set_identity(headers: &mut HeaderMap, identity: &Identity) -> Option<()> {
    for (name, value) in identity.headers() {
        headers.insert(*name, HeaderValue::from_str(value).ok()?);
    }
    Some(())
}

/// The upstream request: the client's with its untrusted headers stripped and the identity
/// headers set. Its `Host` is the authority judged (the client's `Host`, which
/// `request_view` held to an absolute-form target's authority; that authority when the
/// client sent no `Host`), never the upstream's address.
pub(crate) fn upstream_request(
    base: &str,
    mut parts: Parts,
    body: Bytes,
    identity: &Identity,
) -> Option<http::Request<http_body_util::Full<Bytes>>> {
    if !parts.headers.contains_key(http::header::HOST) {
        let judged = HeaderValue::from_str(parts.uri.authority()?.as_str()).ok()?;
        parts.headers.insert(http::header::HOST, judged);
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = format!("{base}{path}").parse().ok()?;
    strip_untrusted(&mut parts.headers);
    set_identity(&mut parts.headers, identity)?;
    Some(http::Request::from_parts(
        parts,
        http_body_util::Full::new(body),
    ))
}

/// The one value of a forwarding header, if present; more than one is refused.
fn forwarded(parts: &Parts, name: &str) -> Result<Option<String>, HttpError> {
    let mut values = parts.headers.get_all(name).iter();
    let Some(v) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(HttpError::DuplicateHeader {
            name: name.to_owned(),
        });
    }
    let v = v.to_str().map_err(|_| HttpError::HeaderInvalid {
        name: name.to_owned(),
        detail: "not visible ascii".to_owned(),
    })?;
    Ok(Some(v.to_owned()))
}

/// The request an auth sub-request stands for, read only where `auth.proxy` puts it: nginx's
/// `X-Original-Method` / `-URI` / `-Host`, Traefik's `X-Forwarded-*` (each required), or
/// (Envoy `ext_authz`) the sub-request's own, with `path_prefix` removed; its headers and
/// body as received. Another shape's headers are never read: proxies pass the client's own
/// headers on, so a client could otherwise name the path judged while the proxy forwards
/// another. The caller is trusted to set the shape's headers: the auth listener must be
/// reachable by the proxy only.
pub(crate) fn original_request(
    parts: &Parts,
    body: &Bytes,
    auth: &AuthConfig,
) -> Result<HttpRequest, HttpError> {
    let mut view = kya_verify::middleware::request_view(parts, body)?;
    let (method, target, host) = match auth.proxy.and_then(AuthProxy::original_headers) {
        Some([method, target, host]) => {
            let required = |name: &str| {
                forwarded(parts, name)?.ok_or_else(|| HttpError::BadRequest {
                    detail: format!(
                        "the auth sub-request carries no `{name}`, which the configured proxy sets"
                    ),
                })
            };
            (required(method)?, required(target)?, required(host)?)
        }
        // Envoy, the only other shape (the configuration requires one).
        None => {
            let own = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let stripped = own.strip_prefix(auth.path_prefix.as_str()).unwrap_or(own);
            let target = if stripped.starts_with('/') {
                stripped.to_owned()
            } else {
                format!("/{stripped}")
            };
            (view.method.clone(), target, view.authority.clone())
        }
    };
    let original = HttpRequest::new(&method, &host, &target);
    view.method = method;
    view.authority = original.authority;
    view.path = original.path;
    view.query = original.query;
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_headers_from_clients_are_removed_in_any_case() {
        let mut h = HeaderMap::new();
        h.insert(
            "KYA-Verified-Principal",
            HeaderValue::from_static("did:forged"),
        );
        h.append("kya-verified-agent", HeaderValue::from_static("did:forged"));
        h.insert("KYA-VERIFIED-NEW-ONE", HeaderValue::from_static("x"));
        h.insert("connection", HeaderValue::from_static("close"));
        h.insert("kya-action", HeaderValue::from_static("payments"));
        strip_untrusted(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("kya-action"));
    }

    #[test]
    fn upstreams_are_plain_http_origins() {
        assert_eq!(
            upstream_base("http://127.0.0.1:9000/").as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert!(upstream_base("http://127.0.0.1:9000/api").is_none());
        assert!(upstream_base("https://shop.example").is_none());
        assert!(upstream_base("http://user@host").is_none());
    }

    fn shape(proxy: AuthProxy, path_prefix: &str) -> AuthConfig {
        AuthConfig {
            proxy: Some(proxy),
            path_prefix: path_prefix.to_owned(),
        }
    }

    fn judged(req: http::Request<()>, auth: &AuthConfig) -> Result<HttpRequest, HttpError> {
        let (parts, ()) = req.into_parts();
        original_request(&parts, &Bytes::new(), auth)
    }

    fn seen(view: &HttpRequest) -> (&str, &str, &str) {
        (
            view.method.as_str(),
            view.authority.as_str(),
            view.path.as_str(),
        )
    }

    #[test]
    fn an_auth_sub_request_is_judged_as_the_original() {
        let req = http::Request::builder()
            .method("GET")
            .uri("/kya/auth")
            .header("host", "127.0.0.1:7000")
            .header("x-original-method", "POST")
            .header("x-original-uri", "/pay?x=1")
            .header("x-original-host", "Shop.Example")
            .body(())
            .unwrap_or_default();
        let view =
            judged(req, &shape(AuthProxy::Nginx, "")).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(seen(&view), ("POST", "shop.example", "/pay"));
        assert_eq!(view.query.as_deref(), Some("x=1"));
        let twice = http::Request::builder()
            .uri("/")
            .header("host", "a")
            .header("x-original-method", "GET")
            .header("x-original-host", "a")
            .header("x-original-uri", "/a")
            .header("x-original-uri", "/b")
            .body(())
            .unwrap_or_default();
        assert!(judged(twice, &shape(AuthProxy::Nginx, "")).is_err());
    }

    /// Proxies pass the client's headers on: a client that adds another proxy's header
    /// (here nginx's `X-Original-URI` behind Traefik) names nothing the gateway judges.
    #[test]
    fn only_the_configured_proxys_headers_name_the_original() {
        let both = || {
            http::Request::builder()
                .method("POST")
                .uri("/kya-check/refund")
                .header("host", "shop.example")
                .header("x-forwarded-method", "POST")
                .header("x-forwarded-host", "shop.example")
                .header("x-forwarded-uri", "/admin/delete-all")
                .header("x-original-method", "POST")
                .header("x-original-host", "shop.example")
                .header("x-original-uri", "/pay")
                .body(())
                .unwrap_or_default()
        };
        let ok = |r: Result<HttpRequest, HttpError>| r.unwrap_or_else(|e| unreachable!("{e}"));
        let traefik = ok(judged(both(), &shape(AuthProxy::Traefik, "")));
        assert_eq!(
            seen(&traefik),
            ("POST", "shop.example", "/admin/delete-all")
        );
        let nginx = ok(judged(both(), &shape(AuthProxy::Nginx, "")));
        assert_eq!(seen(&nginx), ("POST", "shop.example", "/pay"));
        let envoy = ok(judged(both(), &shape(AuthProxy::Envoy, "/kya-check")));
        assert_eq!(seen(&envoy), ("POST", "shop.example", "/refund"));
        // A shape whose headers are missing is refused, never judged as the sub-request.
        let bare = http::Request::builder()
            .method("POST")
            .uri("/pay")
            .header("host", "shop.example")
            .header("x-original-uri", "/pay")
            .body(())
            .unwrap_or_default();
        assert!(matches!(
            judged(bare, &shape(AuthProxy::Traefik, "")),
            Err(HttpError::BadRequest { detail }) if detail.contains("x-forwarded-method")
        ));
    }
}
