//! How the IR resolves what a spec leaves implicit.

use wsauth_gen::ir::{Access, Direction, Limits, TokenSource};
use wsauth_gen::{Api, SourceFile, load_source};

fn load(text: &str) -> Api {
    load_source(&SourceFile::new("test.yaml", text))
        .unwrap_or_else(|e| panic!("{}", e.render_plain()))
}

const SPEC: &str = r#"
wsauth: 1
name: t
version: "1"
auth:
  sources: [subprotocol, { cookie: sid }]
  jwt: { keys: { main: { algorithms: [ES256, ES384] } } }
  anonymous_role: guest
permissions:
  feed.read: r
  feed.write: w
  admin.users: u
roles:
  guest: [feed.read]
  editor: ["feed.*"]
  root: ["*"]
limits: { max_message_bytes: 1024, idle_timeout_s: 90 }
endpoints:
  feed:
    path: /feed
    auth: optional
    perm: feed.read
    welcome: hello
    sends: [item, hello]
    receives: [post]
    limits: { max_message_bytes: 512 }
messages:
  hello: {}
  item: {}
  post: { perm: feed.write }
"#;

#[test]
fn limits_inherit_framework_then_spec_then_endpoint() {
    let api = load(SPEC);
    assert_eq!(api.limits.max_message_bytes, 1024);
    assert_eq!(api.limits.idle_timeout_s, 90);
    assert_eq!(api.limits.send_queue, Limits::DEFAULT.send_queue);
    let feed = api.endpoint("feed").map(|e| e.limits);
    assert_eq!(
        feed.map(|l| (l.max_message_bytes, l.idle_timeout_s)),
        Some((512, 90))
    );
}

#[test]
fn prefix_wildcards_expand_to_declared_permissions() {
    let api = load(SPEC);
    let editor = api
        .roles
        .iter()
        .find(|r| r.name == "editor")
        .map(|r| r.permissions.clone());
    assert_eq!(
        editor,
        Some(vec!["feed.read".to_owned(), "feed.write".to_owned()])
    );
    assert!(api.role_grants("root", "admin.users"));
    assert!(!api.role_grants("editor", "admin.users"));
}

#[test]
fn welcome_is_sent_first_and_directions_follow_endpoints() {
    let api = load(SPEC);
    let feed = api
        .endpoint("feed")
        .map(|e| (e.access, e.sends.clone(), e.sources.clone()));
    assert_eq!(
        feed,
        Some((
            Access::Optional,
            vec!["hello".to_owned(), "item".to_owned()],
            vec![
                TokenSource::Subprotocol("wsauth".into()),
                TokenSource::Cookie("sid".into())
            ],
        ))
    );
    assert_eq!(
        api.message("post").map(|m| m.direction),
        Some(Direction::ClientToServer)
    );
    assert_eq!(
        api.message("hello").map(|m| m.direction),
        Some(Direction::ServerToClient)
    );
}

#[test]
fn named_keys_keep_their_family() {
    let api = load(SPEC);
    let keys = api.auth.and_then(|a| a.jwt).map(|j| j.keys);
    let key = keys.as_ref().and_then(|k| k.first());
    assert_eq!(
        key.map(|k| (k.name.as_str(), k.family)),
        Some(("main", wsauth_gen::ir::KeyFamily::Ec))
    );
}
