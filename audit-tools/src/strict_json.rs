//! Parsing of one export line into a `serde_json::Value`, refusing an object
//! that names the same member twice.
//!
//! `serde_json` silently keeps the last of two equal names. An export line
//! `{"seq": 4, …, "seq": 9}` would then be read one way here and perhaps
//! another way by a different tool, and RFC 8785 forbids duplicate names, so
//! such a line is malformed rather than merely suspicious.

use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Parses `bytes` (one line, surrounding whitespace allowed) as strict JSON.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Strict>(bytes).map(|strict| strict.0)
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E: Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_u64<E: Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_i64<E: Error>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E: Error>(self, value: f64) -> Result<Value, E> {
        // JSON text cannot spell NaN or infinity; an overflowing literal is
        // refused by the parser before it gets here.
        Number::from_f64(value)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E: Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = access.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(A::Error::custom(format!("duplicate member name `{name}`")));
            }
            let Strict(value) = access.next_value()?;
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use serde_json::json;

    #[test]
    fn a_plain_object_parses_like_serde_json_does() {
        let text = br#" {"a": [1, -2, 3.5, "x", null, true], "b": {"c": {}}} "#;
        assert_eq!(
            parse(text).unwrap(),
            serde_json::from_slice::<serde_json::Value>(text).unwrap()
        );
    }

    #[test]
    fn a_repeated_member_name_is_refused_at_any_depth() {
        assert!(parse(br#"{"seq": 1, "seq": 2}"#).is_err());
        let error = parse(br#"{"data": {"x": 1, "x": 1}}"#).unwrap_err();
        assert!(
            error.to_string().contains("duplicate member name `x`"),
            "{error}"
        );
    }

    #[test]
    fn equal_names_in_different_objects_are_fine() {
        let value = parse(br#"{"a": {"x": 1}, "b": {"x": 2}}"#).unwrap();
        assert_eq!(value, json!({"a": {"x": 1}, "b": {"x": 2}}));
    }

    #[test]
    fn trailing_text_and_lone_surrogates_are_refused() {
        assert!(parse(br#"{"a": 1} {"#).is_err());
        assert!(parse(br#"{"a": "\ud800"}"#).is_err());
        assert!(parse(b"").is_err());
    }
}
