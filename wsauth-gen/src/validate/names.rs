//! Names in the spec: what each kind of name may look like, and names that
//! differ in the spec but would be one identifier in generated code.

use std::collections::HashMap;

use super::Validator;
use crate::diagnostic::Diagnostic;
use crate::naming;
use crate::spec::model::Name;

/// What a kind of name may look like: a pattern in words, for help, and a test.
pub(super) struct NameRule {
    what: &'static str,
    shape: &'static str,
    test: fn(&str) -> bool,
}

fn is_snake(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

const SNAKE: &str = "lower-case letters, digits and `_`, starting with a letter";

pub(super) const API_NAME: NameRule = NameRule {
    what: "API name",
    shape: "lower-case letters, digits, `_` and `-`, starting with a letter",
    test: |s| is_snake(&s.replace('-', "_")) && !s.ends_with('-'),
};
pub(super) const ENDPOINT: NameRule = NameRule {
    what: "endpoint name",
    shape: SNAKE,
    test: is_snake,
};
pub(super) const MESSAGE: NameRule = NameRule {
    what: "message name",
    shape: SNAKE,
    test: is_snake,
};
pub(super) const TOPIC: NameRule = NameRule {
    what: "topic name",
    shape: SNAKE,
    test: is_snake,
};
pub(super) const CHECK: NameRule = NameRule {
    what: "check name",
    shape: SNAKE,
    test: is_snake,
};
pub(super) const PARAM: NameRule = NameRule {
    what: "parameter name",
    shape: SNAKE,
    test: is_snake,
};
pub(super) const SERVER: NameRule = NameRule {
    what: "server name",
    shape: "letters, digits, `_` and `-`, starting with a letter",
    test: |s| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    },
};
pub(super) const ROLE: NameRule = NameRule {
    what: "role name",
    shape: "letters, digits, `_`, `-`, `.` and `:`, starting with a letter",
    test: |s| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
    },
};
pub(super) const PERMISSION: NameRule = NameRule {
    what: "permission name",
    shape: "dot-separated parts of lower-case letters, digits and `_`, e.g. `conversation.read`",
    test: |s| s.split('.').all(is_snake),
};

impl Validator<'_> {
    pub(super) fn check_name(&mut self, name: &Name, rule: &NameRule) {
        if !(rule.test)(name) {
            self.error(
                Diagnostic::new(
                    "wsauth::bad_name",
                    name.span,
                    format!("`{}` is not a valid {}", name.value, rule.what),
                )
                .help(format!("use {}", rule.shape)),
            );
        }
    }

    /// Reports names that differ in the spec but become the same type name
    /// in generated code (`a_1` and `a1` are both `A1`): every backend
    /// would otherwise emit two declarations of one name.
    pub(super) fn distinct_type_names<'n>(
        &mut self,
        what: &str,
        names: impl IntoIterator<Item = &'n Name>,
    ) {
        self.distinct_identifiers(what, names, naming::pascal);
    }

    /// Reports fields of one object that become the same Rust field
    /// (`userId` and `user_id` are both `user_id`).
    pub(super) fn distinct_field_names<'n>(&mut self, names: impl IntoIterator<Item = &'n Name>) {
        self.distinct_identifiers("field", names, |name| {
            naming::rust::snake(name)
                .trim_start_matches("r#")
                .to_owned()
        });
    }

    fn distinct_identifiers<'n>(
        &mut self,
        what: &str,
        names: impl IntoIterator<Item = &'n Name>,
        identifier: impl Fn(&str) -> String,
    ) {
        let mut seen: HashMap<String, &Name> = HashMap::new();
        for name in names {
            let ty = identifier(&name.value);
            if let Some(first) = seen.get(&ty) {
                self.error(
                    Diagnostic::new(
                        "wsauth::name_clash",
                        name.span,
                        format!(
                            "{what} `{}` and {what} `{}` both become `{ty}` in generated code",
                            name.value, first.value
                        ),
                    )
                    .also(first.span, "this one")
                    .help("rename one of them"),
                );
            } else {
                seen.insert(ty, name);
            }
        }
    }
}
