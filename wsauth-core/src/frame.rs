//! The wire format of typed frames, in one place: a JSON object whose
//! `type` names the message, its payload's fields beside it.
//!
//! # Motivation
//!
//! Every message crosses this module twice per round trip, so it parses and
//! writes each frame once. The loop only needs a frame's `type` to route and
//! authorize it: [`kind_of`] validates the whole text but borrows the type
//! and builds nothing, and the text is parsed straight into what the
//! handler wants (the endpoint's typed enum, or a `serde_json::Value` for
//! an untyped session). A typed message whose `type` the loop already knows
//! is decoded straight into its payload's type, the `type` entry skipped
//! (by the loop, while it checks the payload, or by [`decode_fields`]):
//! serde's internally tagged enums would first copy the whole object into a
//! buffer of their own to find the tag. [`encode`]
//! writes `"type"` and then the payload's own fields straight into the
//! output, instead of building a JSON tree to splice the type into.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer, StringDeserializer};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::ser::{self, Impossible, Serialize, SerializeMap, SerializeStruct, Serializer};
use serde::{Deserialize, Deserializer};

/// The frame's `type` when `text` is one JSON object with a string `type`
/// (well-formed JSON throughout, other fields skipped); `None` otherwise.
/// Skipped fields are not checked as values (nesting depth, number range,
/// lone surrogates): the handler's parse refuses those, as invalid.
pub(crate) fn kind_of(text: &str) -> Option<Cow<'_, str>> {
    #[cfg(test)]
    parses::count();
    #[derive(Deserialize)]
    struct Head<'a> {
        #[serde(rename = "type", borrow)]
        kind: Cow<'a, str>,
    }
    // A derived struct also deserializes from an array; a frame is an object.
    if !text.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str::<Head<'_>>(text).ok().map(|h| h.kind)
}

/// The fields of the frame `text` (a JSON object) but its `type`, decoded
/// as `T` in one pass: `T` sees exactly the object an internally tagged
/// enum's variant would (so a `deny_unknown_fields` type still refuses an
/// undeclared field). `None` when the text is not such an object.
pub(crate) fn decode_fields<T: DeserializeOwned>(text: &str) -> Option<T> {
    #[cfg(test)]
    parses::count();
    let mut de = serde_json::Deserializer::from_str(text);
    let fields = de.deserialize_map(FieldsOf(PhantomData)).ok()?;
    de.end().ok()?;
    Some(fields)
}

/// Decodes the frame's fields as the payload type an endpoint routes its
/// `type` to (see [`Endpoint::__route`](crate::Endpoint::__route)).
pub(crate) struct FieldsOfText<'a>(pub(crate) &'a str);

impl<M> crate::typed::Decoder<M> for FieldsOfText<'_> {
    type Output = Option<M>;

    fn decode<T: DeserializeOwned>(self, wrap: fn(T) -> M) -> Option<M> {
        decode_fields(self.0).map(wrap)
    }
}

/// How many times this thread has parsed a frame's text (by [`kind_of`],
/// [`decode_fields`], the payload's check or its fused decode): for tests
/// that serve and connect on one thread.
#[cfg(test)]
pub(crate) mod parses {
    use std::cell::Cell;

    thread_local! {
        static PARSES: Cell<usize> = const { Cell::new(0) };
    }

    pub(crate) fn count() {
        PARSES.with(|n| n.set(n.get() + 1));
    }

    pub(crate) fn so_far() -> usize {
        PARSES.with(Cell::get)
    }
}

/// Visits a frame's object as a `T`.
struct FieldsOf<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for FieldsOf<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(WithoutType(map)))
    }
}

/// A frame's entries, its `type` left out.
struct WithoutType<A>(A);

/// A key as the parser gives it: borrowed from the text, or unescaped
/// (serde's own `Cow<str>` always allocates).
pub(crate) enum FieldName<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl FieldName<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            FieldName::Borrowed(name) => name,
            FieldName::Owned(name) => name,
        }
    }

    pub(crate) fn into_owned(self) -> String {
        match self {
            FieldName::Borrowed(name) => name.to_owned(),
            FieldName::Owned(name) => name,
        }
    }
}

impl<'de> Deserialize<'de> for FieldName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = FieldName<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<FieldName<'de>, E> {
                Ok(FieldName::Borrowed(v))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldName<'de>, E> {
                Ok(FieldName::Owned(v.to_owned()))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WithoutType<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let key = match self.0.next_key::<FieldName<'de>>()? {
                None => return Ok(None),
                Some(FieldName::Borrowed("type")) => None,
                Some(FieldName::Owned(key)) if key == "type" => None,
                Some(key) => Some(key),
            };
            match key {
                None => {
                    self.0.next_value::<IgnoredAny>()?;
                }
                Some(FieldName::Borrowed(key)) => {
                    return seed
                        .deserialize(BorrowedStrDeserializer::new(key))
                        .map(Some);
                }
                Some(FieldName::Owned(key)) => {
                    return seed.deserialize(StringDeserializer::new(key)).map(Some);
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// The frame's `type` when it is the first key of the object `text` opens
/// with and its value a string without escapes, as every frame wsauth and
/// its generated clients write is: found without parsing the rest, so it
/// proves nothing about the rest (see [`kind_of`] for that).
pub(crate) fn leading_kind(text: &str) -> Option<&str> {
    let json_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r');
    let rest = text.trim_start_matches(json_space).strip_prefix('{')?;
    let rest = rest
        .trim_start_matches(json_space)
        .strip_prefix("\"type\"")?;
    let rest = rest.trim_start_matches(json_space).strip_prefix(':')?;
    let rest = rest.trim_start_matches(json_space).strip_prefix('"')?;
    let end = rest.find(['"', '\\'])?;
    rest[end..].starts_with('"').then(|| &rest[..end])
}

/// Why a payload cannot be a frame's fields.
#[derive(Debug)]
pub(crate) struct NotAnObject;

/// `{"type": kind, ...payload's fields}` as JSON text. The payload must
/// serialize as a map or a struct (or as nothing: `()`, `None`); an enum's
/// struct or tuple variant (`{"V": ...}`) is refused, and so is a key JSON
/// cannot have. A field of its own named `type` is dropped: `kind` is the
/// frame's type.
pub(crate) fn encode(kind: &str, payload: &impl Serialize) -> Result<String, NotAnObject> {
    serde_json::to_string(&Frame { kind, payload }).map_err(|_| NotAnObject)
}

struct Frame<'a, T: ?Sized> {
    kind: &'a str,
    payload: &'a T,
}

impl<T: Serialize + ?Sized> Serialize for Frame<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", self.kind)?;
        self.payload.serialize(Fields(&mut map))?;
        map.end()
    }
}

fn not_an_object<E: ser::Error>() -> E {
    E::custom("a frame's payload must be a map or a struct")
}

/// Serializes a payload's fields into the frame's map.
struct Fields<'m, M>(&'m mut M);

/// Skips the value of a map entry whose key was `type`.
struct FieldsMap<'m, M> {
    map: &'m mut M,
    skip_value: bool,
}

macro_rules! refuse {
    ($($method:ident($($arg:ty),*) -> $ret:ty;)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ret, Self::Error> {
            Err(not_an_object())
        })*
    };
}

impl<'m, M: SerializeMap> Serializer for Fields<'m, M> {
    type Ok = ();
    type Error = M::Error;
    type SerializeSeq = Impossible<(), M::Error>;
    type SerializeTuple = Impossible<(), M::Error>;
    type SerializeTupleStruct = Impossible<(), M::Error>;
    type SerializeTupleVariant = Impossible<(), M::Error>;
    type SerializeMap = FieldsMap<'m, M>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), M::Error>;

    refuse! {
        serialize_bool(bool) -> ();
        serialize_i8(i8) -> ();
        serialize_i16(i16) -> ();
        serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_u8(u8) -> ();
        serialize_u16(u16) -> ();
        serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_str(&str) -> ();
        serialize_bytes(&[u8]) -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }

    fn serialize_none(self) -> Result<(), Self::Error> {
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Self::Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Self::Error> {
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Self::Error> {
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Self::Error> {
        value.serialize(self)
    }

    /// An externally tagged variant is the object `{variant: value}`.
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Self::Error> {
        if variant != "type" {
            self.0.serialize_entry(variant, value)?;
        }
        Ok(())
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Self::Error> {
        Ok(FieldsMap {
            map: self.0,
            skip_value: false,
        })
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Self::Error> {
        Ok(self)
    }
}

impl<M: SerializeMap> SerializeStruct for Fields<'_, M> {
    type Ok = ();
    type Error = M::Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Self::Error> {
        if key == "type" {
            return Ok(());
        }
        self.0.serialize_entry(key, value)
    }

    fn end(self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl<M: SerializeMap> SerializeMap for FieldsMap<'_, M> {
    type Ok = ();
    type Error = M::Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Self::Error> {
        self.skip_value = key.serialize(IsType).unwrap_or(false);
        if self.skip_value {
            return Ok(());
        }
        self.map.serialize_key(key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        if std::mem::take(&mut self.skip_value) {
            return Ok(());
        }
        self.map.serialize_value(value)
    }

    fn end(self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Whether a map key is the string `type`.
struct IsType;

/// A key that is not a string (it is not `type`; the frame's map decides
/// whether it can be a key at all).
#[derive(Debug)]
struct NotAString;

impl fmt::Display for NotAString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a string")
    }
}

impl std::error::Error for NotAString {}

impl ser::Error for NotAString {
    fn custom<T: fmt::Display>(_: T) -> Self {
        NotAString
    }
}

macro_rules! not_a_string {
    ($($method:ident($($arg:ty),*) -> $ret:ty;)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ret, NotAString> {
            Err(NotAString)
        })*
    };
}

impl Serializer for IsType {
    type Ok = bool;
    type Error = NotAString;
    type SerializeSeq = Impossible<bool, NotAString>;
    type SerializeTuple = Impossible<bool, NotAString>;
    type SerializeTupleStruct = Impossible<bool, NotAString>;
    type SerializeTupleVariant = Impossible<bool, NotAString>;
    type SerializeMap = Impossible<bool, NotAString>;
    type SerializeStruct = Impossible<bool, NotAString>;
    type SerializeStructVariant = Impossible<bool, NotAString>;

    fn serialize_str(self, value: &str) -> Result<bool, NotAString> {
        Ok(value == "type")
    }

    /// An enum key is written as its variant's name.
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<bool, NotAString> {
        Ok(variant == "type")
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<bool, NotAString> {
        value.serialize(self)
    }

    not_a_string! {
        serialize_bool(bool) -> bool;
        serialize_i8(i8) -> bool;
        serialize_i16(i16) -> bool;
        serialize_i32(i32) -> bool;
        serialize_i64(i64) -> bool;
        serialize_u8(u8) -> bool;
        serialize_u16(u16) -> bool;
        serialize_u32(u32) -> bool;
        serialize_u64(u64) -> bool;
        serialize_f32(f32) -> bool;
        serialize_f64(f64) -> bool;
        serialize_char(char) -> bool;
        serialize_bytes(&[u8]) -> bool;
        serialize_none() -> bool;
        serialize_unit() -> bool;
        serialize_unit_struct(&'static str) -> bool;
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<bool, NotAString> {
        Err(NotAString)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<bool, NotAString> {
        Err(NotAString)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    #[derive(serde::Serialize)]
    struct Chat {
        text: String,
        id: u32,
    }

    #[derive(serde::Serialize)]
    #[serde(tag = "type")]
    enum Outgoing {
        #[serde(rename = "chat")]
        Chat(Chat),
    }

    fn chat() -> Chat {
        Chat {
            text: "hi".into(),
            id: 7,
        }
    }

    #[test]
    fn the_type_comes_first_then_the_fields_in_order() {
        assert_eq!(
            encode("chat", &chat()).ok(),
            Some(r#"{"type":"chat","text":"hi","id":7}"#.to_owned())
        );
        // A typed enum's own tag is the frame's type, written once.
        assert_eq!(
            encode("chat", &Outgoing::Chat(chat())).ok(),
            Some(r#"{"type":"chat","text":"hi","id":7}"#.to_owned())
        );
    }

    #[test]
    fn a_payload_type_field_never_overrides_the_kind() {
        let value = json!({"type": "admin", "payload": [1, 2], "z": null});
        assert_eq!(
            encode("echo", &value).ok(),
            Some(r#"{"type":"echo","payload":[1,2],"z":null}"#.to_owned())
        );
        let map: BTreeMap<&str, u8> = [("type", 1), ("a", 2)].into();
        assert_eq!(
            encode("m", &map).ok(),
            Some(r#"{"type":"m","a":2}"#.to_owned())
        );
        // Keys written from an enum variant's name, from a newtype or from
        // `collect_str` are recognised too.
        #[derive(serde::Serialize, PartialEq, Eq, PartialOrd, Ord)]
        enum Key {
            #[serde(rename = "type")]
            Kind,
            #[serde(rename = "b")]
            B,
        }
        let map: BTreeMap<Key, u8> = [(Key::Kind, 1), (Key::B, 2)].into();
        assert_eq!(
            encode("m", &map).ok(),
            Some(r#"{"type":"m","b":2}"#.to_owned())
        );
        #[derive(serde::Serialize, PartialEq, Eq, PartialOrd, Ord)]
        struct Name(String);
        let map: BTreeMap<Name, u8> = [(Name("type".into()), 1)].into();
        assert_eq!(encode("m", &map).ok(), Some(r#"{"type":"m"}"#.to_owned()));
        struct Displayed;
        impl Serialize for Displayed {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry(&format_args!("ty{}", "pe"), &1)?;
                map.end()
            }
        }
        assert_eq!(
            encode("m", &Displayed).ok(),
            Some(r#"{"type":"m"}"#.to_owned())
        );
    }

    #[test]
    fn empty_payloads_are_a_bare_type_and_scalars_are_refused() {
        assert_eq!(
            encode("ping", &()).ok(),
            Some(r#"{"type":"ping"}"#.to_owned())
        );
        assert_eq!(
            encode("ping", &None::<Chat>).ok(),
            Some(r#"{"type":"ping"}"#.to_owned())
        );
        assert_eq!(
            encode("ping", &json!({})).ok(),
            Some(r#"{"type":"ping"}"#.to_owned())
        );
        for bad in [json!(1), json!("x"), json!([1]), json!(true)] {
            assert!(encode("x", &bad).is_err(), "{bad}");
        }
        // Keys JSON cannot have are refused, not written.
        let tuple_keys: BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        assert!(encode("x", &tuple_keys).is_err());
    }

    #[test]
    fn the_leading_kind_is_a_first_unescaped_type() {
        assert_eq!(leading_kind(r#"{"type":"chat","text":"hi"}"#), Some("chat"));
        assert_eq!(leading_kind(" {\n \"type\" :\t\"chat\"}"), Some("chat"));
        assert_eq!(leading_kind(r#"{"type":""}"#), Some(""));
        for other in [
            r#"{"text":"hi","type":"chat"}"#,
            r#"{"type":"c\u0068at"}"#,
            r#"{"typ\u0065":"chat"}"#,
            r#"{"type":5}"#,
            r#"{"type":"chat"#,
            r#"["type","chat"]"#,
            "",
        ] {
            assert_eq!(leading_kind(other), None, "{other}");
        }
    }

    #[test]
    fn kind_of_reads_only_objects_with_a_string_type() {
        assert_eq!(
            kind_of(r#"{"type":"chat","text":"hi"}"#).as_deref(),
            Some("chat")
        );
        assert_eq!(
            kind_of(r#" {"a":[1,{"b":2}],"type":"c\u0068at"}"#).as_deref(),
            Some("chat")
        );
        for bad in [
            r#"["chat"]"#,
            r#"{"type":1}"#,
            r#"{"text":"hi"}"#,
            r#"{"type":"chat""#,
            r#"{"type":"chat"} x"#,
            r#"{"type":"chat","type":"admin"}"#,
            r#"{"type":"chat","a":tru}"#,
            "",
            "chat",
        ] {
            assert_eq!(kind_of(bad), None, "{bad}");
        }
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Said {
        text: String,
        id: Option<u32>,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(tag = "type")]
    enum Incoming {
        #[serde(rename = "said")]
        Said(Said),
    }

    #[test]
    fn fields_decode_as_the_tagged_enum_decodes_them() {
        for text in [
            r#"{"type":"said","text":"hi","id":7}"#,
            r#"{"text":"hi","type":"said"}"#,
            r#" { "id" : null , "text" : "h\u0069" , "type" : "said" } "#,
            r#"{"typ\u0065":"said","t\u0065xt":"hi"}"#,
            r#"{"type":"said","text":"hi","extra":1}"#,
            r#"{"type":"said","text":5}"#,
            r#"{"type":"said"}"#,
            r#"{"type":"said","text":"hi"} trailing"#,
            r#"{"type":"said","text":"hi""#,
            r#"["said","hi"]"#,
            "said",
        ] {
            let tagged = serde_json::from_str::<Incoming>(text)
                .ok()
                .map(|Incoming::Said(said)| said);
            assert_eq!(decode_fields::<Said>(text), tagged, "{text}");
        }
        assert_eq!(
            decode_fields::<Said>(r#"{"text":"hi","type":"said"}"#),
            Some(Said {
                text: "hi".to_owned(),
                id: None
            })
        );
    }
}
