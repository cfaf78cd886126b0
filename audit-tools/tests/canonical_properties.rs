//! Goal: canonical bytes depend only on the JSON value, never on how its text
//! was written: member order, whitespace and number spelling do not matter,
//! and canonical text is a fixed point.

use chainbook_audit::canonical_bytes;
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,8}", inner, 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Writes `value` as JSON text with every object's members in the order given
/// by `rotation` (a rotation of the sorted order) and with spaces around
/// punctuation, i.e. a different text for the same value.
fn write_shuffled(value: &Value, rotation: usize, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push_str("[ ");
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(" , ");
                }
                write_shuffled(item, rotation, out);
            }
            out.push_str(" ]");
        }
        Value::Object(members) => {
            let mut names: Vec<&String> = members.keys().collect();
            if !names.is_empty() {
                let shift = rotation % names.len();
                names.rotate_left(shift);
                names.reverse();
            }
            out.push_str("{ ");
            for (index, name) in names.iter().enumerate() {
                if index > 0 {
                    out.push_str(" , ");
                }
                out.push_str(&Value::from(name.as_str()).to_string());
                out.push_str(" : ");
                write_shuffled(&members[name.as_str()], rotation, out);
            }
            out.push_str(" }");
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

proptest! {
    #[test]
    fn canonical_bytes_do_not_depend_on_member_order_or_whitespace(
        value in any_json(),
        rotation in 0usize..7,
    ) {
        let mut text = String::new();
        write_shuffled(&value, rotation, &mut text);
        let reparsed: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(canonical_bytes(&reparsed), canonical_bytes(&value));
    }

    #[test]
    fn canonical_text_reparses_to_the_same_canonical_bytes(value in any_json()) {
        let canonical = canonical_bytes(&value);
        let reparsed: Value = serde_json::from_slice(&canonical).unwrap();
        prop_assert_eq!(canonical_bytes(&reparsed), canonical);
    }

    #[test]
    fn pretty_printing_does_not_change_canonical_bytes(value in any_json()) {
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let reparsed: Value = serde_json::from_str(&pretty).unwrap();
        prop_assert_eq!(canonical_bytes(&reparsed), canonical_bytes(&value));
    }
}
