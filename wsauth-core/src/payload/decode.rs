//! A typed message checked and decoded in one pass over its frame.
//!
//! # Motivation
//!
//! A typed handler's message used to be read twice: [`check`] walked the
//! frame for the spec's rules in the connection's loop, then the handler's
//! session parsed the same text again into the message's type. Here the
//! message's type is deserialized through [`Checked`], a serde
//! `Deserializer` that wraps serde_json's and checks each value against its
//! schema as it passes: a value is checked before the type sees it, keys
//! are matched against the declared fields before the type sees them (an
//! undeclared one is refused whether or not the type would ignore it), a
//! value the type ignores is still checked, and `required` is settled when
//! an object ends. The frame's `type` entry is skipped as
//! [`decode_fields`](crate::frame::decode_fields) skips it.
//!
//! The outcome is [`check`]'s, to the violation and its path: the rules
//! are applied in the same order by the same functions. Where the pass
//! stops without a violation (the type refused a value the schema allows,
//! or the text is not JSON the parser can read), [`check`] runs over the
//! whole frame and decides: a violation further on is the one returned,
//! and a frame that breaks no rule goes to the handler as text, which its
//! own decode refuses as it always did. Both are refusals, so the second
//! parse costs only frames that are refused.

use std::any::Any;
use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, StrDeserializer, StringDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess,
    Visitor,
};

use super::{Number, Rule, Seen, Segment, Violation, check, fail, number, resolve, string, within};
use crate::descriptor::{FieldDescriptor, SchemaDescriptor};
use crate::frame::FieldName;
use crate::typed::{Decoder, Endpoint};

/// How a connection's loop decodes a message of its typed handler's
/// endpoint: `kind`'s frame `text`, against `kind`'s payload schema.
/// `Ok(Some)`: the endpoint's `Incoming` value, boxed; `Ok(None)`: the
/// frame breaks no rule but the handler decodes it (its type refuses it,
/// or the endpoint routes no type for `kind`).
pub(crate) type Decode =
    fn(&str, &str, &'static SchemaDescriptor) -> Result<Option<Box<dyn Any + Send>>, Violation>;

/// The [`Decode`] of endpoint `E`'s typed handler.
pub(crate) fn decode_as<E: Endpoint>(
    kind: &str,
    text: &str,
    payload: &'static SchemaDescriptor,
) -> Result<Option<Box<dyn Any + Send>>, Violation> {
    match E::__route(kind, Fused { text, payload }) {
        Some(decoded) => Ok(decoded?.map(|message| Box::new(message) as Box<dyn Any + Send>)),
        None => check(text, payload).map(|()| None),
    }
}

/// Decodes the frame `text` as the message type generated code routes it
/// to, checking it against `payload` in the same pass.
pub(crate) struct Fused<'a> {
    pub(crate) text: &'a str,
    pub(crate) payload: &'static SchemaDescriptor,
}

impl<M> Decoder<M> for Fused<'_> {
    type Output = Result<Option<M>, Violation>;

    fn decode<T: DeserializeOwned>(self, wrap: fn(T) -> M) -> Self::Output {
        Ok(decode::<T>(self.text, self.payload)?.map(wrap))
    }
}

/// The fields of the frame `text` but its `type`, decoded as `T` and
/// checked against `payload`: the violation [`check`] finds, else `T`, or
/// `None` when `T` cannot hold what the schema allows.
pub(crate) fn decode<T: DeserializeOwned>(
    text: &str,
    payload: &'static SchemaDescriptor,
) -> Result<Option<T>, Violation> {
    #[cfg(test)]
    crate::frame::parses::count();
    let mut report = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let decoded = T::deserialize(Checked {
        de: &mut de,
        schema: payload,
        frame: true,
        report: &mut report,
    })
    .and_then(|message| de.end().map(|()| message));
    match (report, decoded) {
        (Some(violation), _) => Err(violation),
        (None, Ok(message)) => Ok(Some(message)),
        // Stopped before the end without a violation: the whole frame's
        // check decides.
        (None, Err(_)) => check(text, payload).map(|()| None),
    }
}

/// A value being decoded, checked against `schema` on the way.
struct Checked<'r, D> {
    de: D,
    schema: &'static SchemaDescriptor,
    /// The whole frame: its `type` key is skipped beside the fields.
    frame: bool,
    report: &'r mut Option<Violation>,
}

impl<'de, D: Deserializer<'de>> Checked<'_, D> {
    /// The schema, its references followed; `None` for a loop of them.
    fn resolved(&self) -> Option<&'static SchemaDescriptor> {
        resolve(self.schema)
    }

    /// Reads the value as `schema` (resolved, not `Any`) asks, checks it,
    /// and hands it to `visitor`: as an enum's variant name when
    /// `as_enum`.
    fn visit<V: Visitor<'de>>(
        self,
        schema: &'static SchemaDescriptor,
        visitor: V,
        as_enum: bool,
    ) -> Result<V::Value, D::Error> {
        if let SchemaDescriptor::Integer(_) | SchemaDescriptor::Number(_) = schema {
            // Read as `check` reads it (see there); handed over after the
            // check, so an error of the visitor's own is never taken for
            // the wrong type.
            let n = match self.de.deserialize_f64(ReadNumber) {
                Ok(n) => n,
                Err(e) => {
                    self.report.get_or_insert(Violation::new(Rule::Type));
                    return Err(e);
                }
            };
            if let Err(rule) = number(schema, n) {
                return fail(self.report, rule);
            }
            return match n {
                Number::I64(v) => visitor.visit_i64(v),
                Number::U64(v) => visitor.visit_u64(v),
                Number::F64(v) => visitor.visit_f64(v),
            };
        }
        self.de.deserialize_any(CheckedVisitor {
            visitor,
            schema,
            frame: self.frame,
            as_enum,
            report: self.report,
        })
    }
}

/// Each `deserialize_*`: handed to the parser as asked when the schema is
/// `Any` (nothing to check: the type decides, as it would alone), else
/// read and checked as the schema says.
macro_rules! checked {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            match self.resolved() {
                None => fail(self.report, Rule::Type),
                Some(SchemaDescriptor::Any) => self.de.$method($($arg,)* visitor),
                Some(schema) => self.visit(schema, visitor, false),
            }
        })*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Checked<'_, D> {
    type Error = D::Error;

    checked! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    /// `null` is never a value (an optional field is left out), so what is
    /// there is the `Some`.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        match self.resolved() {
            Some(SchemaDescriptor::Any) => self.de.deserialize_option(visitor),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        match self.resolved() {
            Some(SchemaDescriptor::Any) => self.de.deserialize_newtype_struct(name, visitor),
            _ => visitor.visit_newtype_struct(self),
        }
    }

    /// A string `enum`'s generated type: the string, checked, is the
    /// variant's name.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        match self.resolved() {
            None => fail(self.report, Rule::Type),
            Some(SchemaDescriptor::Any) => self.de.deserialize_enum(name, variants, visitor),
            Some(schema) => self.visit(schema, visitor, true),
        }
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

/// A number, read before it is checked and handed over.
struct ReadNumber;

impl Visitor<'_> for ReadNumber {
    type Value = Number;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
        Ok(Number::I64(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
        Ok(Number::U64(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
        Ok(Number::F64(v))
    }
}

/// Checks what the parser found against `schema` (resolved, neither `Any`
/// nor a number), then hands it to `visitor`.
struct CheckedVisitor<'r, V> {
    visitor: V,
    schema: &'static SchemaDescriptor,
    frame: bool,
    as_enum: bool,
    report: &'r mut Option<Violation>,
}

impl<'r, V> CheckedVisitor<'r, V> {
    /// Checks the string `v`; on success, gives back the visitor.
    fn string<E: de::Error>(self, v: &str) -> Result<(V, bool), E> {
        match self.schema {
            SchemaDescriptor::String(s) => match string(s, v) {
                Ok(()) => Ok((self.visitor, self.as_enum)),
                Err(rule) => fail(self.report, rule),
            },
            _ => fail(self.report, Rule::Type),
        }
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for CheckedVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<V::Value, E> {
        match self.schema {
            SchemaDescriptor::Boolean => self.visitor.visit_bool(v),
            _ => fail(self.report, Rule::Type),
        }
    }

    // Numbers of a number schema are read by `Checked::visit`: here, any
    // number is of the wrong type.
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<V::Value, E> {
        fail(self.report, Rule::Type)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<V::Value, E> {
        fail(self.report, Rule::Type)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<V::Value, E> {
        fail(self.report, Rule::Type)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        match self.string(v)? {
            (visitor, true) => visitor.visit_enum(StrDeserializer::new(v)),
            (visitor, false) => visitor.visit_str(v),
        }
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        match self.string(v)? {
            (visitor, true) => visitor.visit_enum(BorrowedStrDeserializer::new(v)),
            (visitor, false) => visitor.visit_borrowed_str(v),
        }
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        match self.string(&v)? {
            (visitor, true) => visitor.visit_enum(StringDeserializer::new(v)),
            (visitor, false) => visitor.visit_string(v),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        fail(self.report, Rule::Type)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        fail(self.report, Rule::Type)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let SchemaDescriptor::Array {
            items,
            min_items,
            max_items,
        } = *self.schema
        else {
            return fail(self.report, Rule::Type);
        };
        self.visitor.visit_seq(CheckedSeq {
            seq,
            items,
            min_items,
            max_items,
            count: 0,
            report: self.report,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let SchemaDescriptor::Object { fields } = *self.schema else {
            return fail(self.report, Rule::Type);
        };
        self.visitor.visit_map(CheckedMap {
            map,
            fields,
            frame: self.frame,
            typed: false,
            seen: Seen::new(fields.len()),
            value: None,
            report: self.report,
        })
    }
}

/// An array's items, each checked against `items`; the count against
/// `minItems` and `maxItems`.
struct CheckedSeq<'r, A> {
    seq: A,
    items: &'static SchemaDescriptor,
    min_items: Option<u64>,
    max_items: Option<u64>,
    count: usize,
    report: &'r mut Option<Violation>,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for CheckedSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        let item = CheckedSeed {
            seed,
            schema: self.items,
            report: &mut *self.report,
        };
        match self.seq.next_element_seed(item) {
            Ok(Some(value)) => {
                self.count += 1;
                // Stop at the first item too many, unread the rest.
                if self.max_items.is_some_and(|max| self.count as u64 > max) {
                    return fail(self.report, Rule::MaxItems);
                }
                Ok(Some(value))
            }
            Ok(None) => {
                if self.min_items.is_some_and(|min| (self.count as u64) < min) {
                    return fail(self.report, Rule::MinItems);
                }
                Ok(None)
            }
            Err(e) => {
                within(self.report, Segment::Index(self.count));
                Err(e)
            }
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

/// An object's entries: each key a declared field given once (or, in the
/// frame, its `type`, skipped), each value checked against its field's
/// schema, the required fields all there at its end.
struct CheckedMap<'r, A> {
    map: A,
    fields: &'static [FieldDescriptor],
    frame: bool,
    /// The frame's `type` was seen.
    typed: bool,
    seen: Seen,
    /// The field whose value comes next.
    value: Option<&'static FieldDescriptor>,
    report: &'r mut Option<Violation>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for CheckedMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let Some(key) = self.map.next_key::<FieldName<'de>>()? else {
                let missing = self
                    .fields
                    .iter()
                    .enumerate()
                    .find(|(i, f)| f.required && !self.seen.has(*i));
                if let Some((_, field)) = missing {
                    let failed = fail(self.report, Rule::Required);
                    within(self.report, Segment::Field(field.name));
                    return failed;
                }
                return Ok(None);
            };
            if self.frame && key.as_str() == "type" {
                // A frame has one `type`: the loop routes by it.
                if self.typed {
                    return fail(self.report, Rule::Duplicate);
                }
                self.typed = true;
                self.map.next_value::<IgnoredAny>()?;
                continue;
            }
            let Some((i, field)) = self
                .fields
                .iter()
                .enumerate()
                .find(|(_, f)| f.name == key.as_str())
            else {
                return fail(self.report, Rule::AdditionalProperties);
            };
            if !self.seen.insert(i) {
                let failed = fail(self.report, Rule::Duplicate);
                within(self.report, Segment::Field(field.name));
                return failed;
            }
            self.value = Some(field);
            return match key {
                FieldName::Borrowed(key) => seed.deserialize(BorrowedStrDeserializer::new(key)),
                FieldName::Owned(key) => seed.deserialize(StringDeserializer::new(key)),
            }
            .map(Some);
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let Some(field) = self.value.take() else {
            return Err(de::Error::custom("a value asked for before its key"));
        };
        let value = CheckedSeed {
            seed,
            schema: &field.schema,
            report: &mut *self.report,
        };
        self.map.next_value_seed(value).inspect_err(|_| {
            within(self.report, Segment::Field(field.name));
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// The seed of an item or a field's value, given the value checked.
struct CheckedSeed<'r, S> {
    seed: S,
    schema: &'static SchemaDescriptor,
    report: &'r mut Option<Violation>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for CheckedSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Checked {
            de,
            schema: self.schema,
            frame: false,
            report: self.report,
        })
    }
}
