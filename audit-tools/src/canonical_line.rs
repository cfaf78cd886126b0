//! The fast path for a line that is already in canonical form.
//!
//! The service exports each event as its RFC 8785 bytes with `"hash"` added as
//! the last member. For such a line the hash can be computed over the line's own
//! bytes, without building a JSON value and serialising it again: one pass over
//! the bytes checks that the line minus its `hash` member is exactly what RFC 8785
//! would write (no whitespace, member names unique and sorted, minimal string
//! escapes, integers only) while it picks out the members the chain rules need.
//!
//! `read` answers `Some` only when every check the general path makes on a single
//! line holds (members present and well formed, hash equal, postings balanced);
//! for anything else, including every failure, it answers `None` and the verifier
//! takes the general path, which names the failure. So the fast path can never
//! accept a line the general path refuses, and it never decides a failure's
//! wording: the property tests below hold it to that.

use crate::members::{self, Link};
use crate::merkle::Digest32;
use crate::postings;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

/// Nesting beyond this takes the general path (which has its own bound).
const DEPTH_MAX: usize = 64;
/// Currencies in one event that the fast path keeps totals for.
const CURRENCIES_MAX: usize = 8;
/// Integers whose magnitude is at most 2^53 print the same in RFC 8785.
const EXACT_MAX: u64 = 1 << 53;

/// The chain members of a line that passed every single-line check, and its hash.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Checked<'a> {
    pub link: Link<'a>,
    pub digest: Digest32,
}

/// Reads one export line (its line feed included or not) if it is in canonical
/// form and holds as a single event; `None` sends it to the general path.
pub(crate) fn read(line: &[u8]) -> Option<Checked<'_>> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let text = std::str::from_utf8(line).ok()?;
    let mut cursor = Cursor { text, at: 0 };
    let event = cursor.event()?;
    if cursor.at != text.len() {
        return None;
    }
    let hash = event.hash?;
    let well_formed = !event.ledger?.is_empty()
        && members::is_uuid(event.id?)
        && !event.kind?.is_empty()
        && members::is_recorded_at(event.recorded_at?)
        && members::is_hash_hex(event.prev_hash?)
        && members::is_hash_hex(hash.text)
        && event.data
        && event.postings;
    if !well_formed {
        return None;
    }
    let mut hasher = Sha256::new();
    hasher.update(&line[..hash.cut.start]);
    hasher.update(&line[hash.cut.end..]);
    let digest: Digest32 = hasher.finalize().into();
    if crate::merkle::from_hex(hash.text)? != digest {
        return None;
    }
    Some(Checked {
        link: Link {
            ledger: event.ledger?,
            seq: event.seq?,
            prev_hash: event.prev_hash?,
            hash: hash.text,
        },
        digest,
    })
}

/// Whether `text` is one JSON value exactly as RFC 8785 writes it, within the
/// fast path's domain (integers only, member names below U+E000, no escape in a
/// member name).
#[cfg(test)]
pub(crate) fn is_canonical(text: &str) -> bool {
    let mut cursor = Cursor { text, at: 0 };
    cursor.value(0).is_some() && cursor.at == text.len()
}

/// The `hash` member: its text, and the bytes to leave out of the hash (the
/// member with the comma that joins it to its neighbour).
struct HashMember<'a> {
    text: &'a str,
    cut: std::ops::Range<usize>,
}

#[derive(Default)]
struct Event<'a> {
    ledger: Option<&'a str>,
    seq: Option<u64>,
    id: Option<&'a str>,
    kind: Option<&'a str>,
    recorded_at: Option<&'a str>,
    prev_hash: Option<&'a str>,
    hash: Option<HashMember<'a>>,
    data: bool,
    postings: bool,
}

/// What a scanned value was, as far as the chain rules care.
#[derive(Debug, PartialEq, Eq)]
enum Kind<'a> {
    /// A string without escapes, so its text is its value.
    Plain(&'a str),
    Escaped,
    Integer {
        negative: bool,
        magnitude: u64,
    },
    Object,
    Array,
    Literal,
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// After a member or an element: `true` for a comma, `false` for `close`.
    fn next_or_close(&mut self, close: u8) -> Option<bool> {
        match self.peek()? {
            b',' => {
                self.at += 1;
                Some(true)
            }
            byte if byte == close => {
                self.at += 1;
                Some(false)
            }
            _ => None,
        }
    }

    fn value(&mut self, depth: usize) -> Option<Kind<'a>> {
        match self.peek()? {
            b'"' => self.string(),
            b'{' => self
                .object(depth + 1, |_, _| Some(()))
                .map(|_| Kind::Object),
            b'[' => self.array(depth + 1).map(|_| Kind::Array),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => self.integer(),
        }
    }

    fn literal(&mut self, word: &str) -> Option<Kind<'a>> {
        self.text[self.at..].starts_with(word).then(|| {
            self.at += word.len();
            Kind::Literal
        })
    }

    /// `0` or `-?[1-9][0-9]*` up to 2^53 in magnitude; `-0`, fractions and
    /// exponents take the general path, which formats them the ECMAScript way.
    fn integer(&mut self) -> Option<Kind<'a>> {
        let negative = self.eat(b'-').is_some();
        let bytes = self.text.as_bytes();
        let start = self.at;
        while bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        let digits = &bytes[start..self.at];
        match digits {
            [] => return None,
            [b'0'] if negative => return None,
            [b'0', _, ..] => return None,
            _ if digits.len() > 16 => return None,
            _ => {}
        }
        let magnitude = digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        (magnitude <= EXACT_MAX).then_some(Kind::Integer {
            negative,
            magnitude,
        })
    }

    /// A string with only the escapes RFC 8785 writes: `\"`, `\\`, `\b`, `\f`,
    /// `\n`, `\r`, `\t`, and `\u00xx` (lowercase) for the other controls.
    fn string(&mut self) -> Option<Kind<'a>> {
        self.eat(b'"')?;
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut escaped = false;
        loop {
            match *bytes.get(self.at)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.at += match *bytes.get(self.at + 1)? {
                        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                        b'u' => match bytes.get(self.at + 2..self.at + 6)? {
                            [b'0', b'0', high @ (b'0' | b'1'), low] => {
                                let code = (high - b'0') * 16 + lower_hex(*low)?;
                                if matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                                    return None;
                                }
                                6
                            }
                            _ => return None,
                        },
                        _ => return None,
                    };
                }
                0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
        let content = &self.text[start..self.at];
        self.at += 1;
        Some(if escaped {
            Kind::Escaped
        } else {
            Kind::Plain(content)
        })
    }

    /// A member name: an unescaped string whose UTF-8 byte order is its UTF-16
    /// order (no character at or above U+E000, whose lead byte is 0xEE or more).
    fn name(&mut self) -> Option<&'a str> {
        let Kind::Plain(name) = self.string()? else {
            return None;
        };
        if name.bytes().any(|b| b >= 0xee) {
            return None;
        }
        self.eat(b':')?;
        Some(name)
    }

    /// An object whose names strictly increase; `member` reads each value.
    fn object(
        &mut self,
        depth: usize,
        mut member: impl FnMut(&'a str, Kind<'a>) -> Option<()>,
    ) -> Option<()> {
        if depth > DEPTH_MAX {
            return None;
        }
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        let mut previous: Option<&str> = None;
        loop {
            let name = self.name()?;
            if previous.is_some_and(|p| p.as_bytes() >= name.as_bytes()) {
                return None;
            }
            previous = Some(name);
            let value = self.value(depth)?;
            member(name, value)?;
            if !self.next_or_close(b'}')? {
                return Some(());
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > DEPTH_MAX {
            return None;
        }
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.value(depth)?;
            if !self.next_or_close(b']')? {
                return Some(());
            }
        }
    }

    /// The top-level event object. `hash` may sit anywhere; the other names must
    /// strictly increase, as they do in the canonical bytes without it.
    fn event(&mut self) -> Option<Event<'a>> {
        let mut event = Event::default();
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(event);
        }
        let mut previous: Option<&str> = None;
        let mut first = true;
        loop {
            let start = self.at;
            let name = self.name()?;
            if name == "hash" {
                let Kind::Plain(text) = self.string()? else {
                    return None;
                };
                let end = self.at;
                let more = self.next_or_close(b'}')?;
                // `{"hash":…,"a":…}` loses the following comma; `{…,"hash":…}`
                // and `{…,"hash":…,…}` the preceding one.
                let cut = match (first, more) {
                    (true, true) => start..end + 1,
                    (true, false) => start..end,
                    (false, _) => start - 1..end,
                };
                if event.hash.replace(HashMember { text, cut }).is_some() {
                    return None;
                }
                if !more {
                    return Some(event);
                }
                continue;
            }
            first = false;
            if previous.is_some_and(|p| p.as_bytes() >= name.as_bytes()) {
                return None;
            }
            previous = Some(name);
            match name {
                "postings" => {
                    self.postings()?;
                    event.postings = true;
                }
                "data" => {
                    event.data = self.value(0)? == Kind::Object;
                }
                "seq" => match self.value(0)? {
                    Kind::Integer {
                        negative: false,
                        magnitude,
                    } => event.seq = Some(magnitude),
                    _ => return None,
                },
                _ => {
                    let value = self.value(0)?;
                    let mut other = None;
                    let slot = match name {
                        "ledger" => &mut event.ledger,
                        "id" => &mut event.id,
                        "type" => &mut event.kind,
                        "recorded_at" => &mut event.recorded_at,
                        "prev_hash" => &mut event.prev_hash,
                        _ => &mut other,
                    };
                    // Anything but a plain string leaves the member unread, and
                    // the general path names what is wrong with it.
                    if let Kind::Plain(text) = value {
                        *slot = Some(text);
                    }
                }
            }
            if !self.next_or_close(b'}')? {
                return Some(event);
            }
        }
    }

    /// The `postings` array: each posting well formed (as `postings::check`
    /// wants it) and every currency balanced.
    fn postings(&mut self) -> Option<()> {
        let mut totals = Totals::default();
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            let (mut account, mut currency, mut debit, mut credit) = (None, None, None, None);
            self.object(2, |name, value| {
                let slot = match name {
                    "account" => &mut account,
                    "currency" => &mut currency,
                    "debit" => &mut debit,
                    "credit" => &mut credit,
                    _ => return Some(()),
                };
                match value {
                    Kind::Plain(text) => *slot = Some(text),
                    _ => return None,
                }
                Some(())
            })?;
            if account?.is_empty() {
                return None;
            }
            let currency = currency.filter(|c| !c.is_empty())?;
            let (amount, is_debit) = match (debit, credit) {
                (Some(amount), None) => (amount, true),
                (None, Some(amount)) => (amount, false),
                _ => return None,
            };
            let amount = postings::parse_amount(amount).ok()?;
            totals.add(currency, is_debit, amount)?;
            if !self.next_or_close(b']')? {
                return totals.balanced().then_some(());
            }
        }
    }
}

fn lower_hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

/// Debit and credit totals per currency, for the few currencies one event has.
#[derive(Default)]
struct Totals<'a> {
    rows: [(&'a str, Decimal, Decimal); CURRENCIES_MAX],
    len: usize,
}

impl<'a> Totals<'a> {
    fn add(&mut self, currency: &'a str, is_debit: bool, amount: Decimal) -> Option<()> {
        let index = match self.rows[..self.len].iter().position(|r| r.0 == currency) {
            Some(index) => index,
            None if self.len < CURRENCIES_MAX => {
                self.rows[self.len] = (currency, Decimal::ZERO, Decimal::ZERO);
                self.len += 1;
                self.len - 1
            }
            None => return None,
        };
        let row = &mut self.rows[index];
        let total = if is_debit { &mut row.1 } else { &mut row.2 };
        *total = total.checked_add(amount)?;
        Some(())
    }

    fn balanced(&self) -> bool {
        self.rows[..self.len].iter().all(|r| r.1 == r.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::canonical_bytes;
    use crate::strict_json;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// The general path's verdict on one line: the chain members if the line is
    /// a well-formed event whose hash holds and whose postings balance.
    fn general(line: &[u8]) -> Option<(String, u64, String, String)> {
        let Value::Object(mut event) = strict_json::parse(line).ok()? else {
            return None;
        };
        let claimed = event.remove("hash");
        let m = members::read(&event, claimed.as_ref()).ok()?;
        let holds = crate::canonical::members_hash(&event) == m.link.hash
            && postings::check(m.postings).is_ok();
        holds.then(|| owned(&m.link))
    }

    fn fast(line: &[u8]) -> Option<(String, u64, String, String)> {
        read(line).map(|c| owned(&c.link))
    }

    fn owned(l: &Link) -> (String, u64, String, String) {
        (l.ledger.into(), l.seq, l.prev_hash.into(), l.hash.into())
    }

    /// A line as the service exports it: canonical bytes, then `hash` last.
    fn export_line(event: &Value) -> String {
        let bytes = String::from_utf8(canonical_bytes(event)).unwrap();
        let hash = crate::canonical::event_hash(event);
        format!(r#"{},"hash":"{hash}"}}"#, bytes.strip_suffix('}').unwrap())
    }

    fn arb_text() -> impl Strategy<Value = String> {
        "[a-z:]{0,6}|\\PC{0,6}|[\u{0}-\u{1f}\"\\\\/\u{7f}\u{e000}😀]{0,4}"
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            (-100i64..100).prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            arb_text().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{0,4}|[a\u{e000}😀\u{1}]{0,3}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_amount() -> impl Strategy<Value = String> {
        prop_oneof![
            (1u32..100_000, 0u32..100).prop_map(|(w, f)| format!("{w}.{f:02}")),
            Just("0.00".to_owned()),
            Just("1e3".to_owned()),
            Just("01.5".to_owned()),
            Just("7".to_owned()),
        ]
    }

    fn arb_posting() -> impl Strategy<Value = Value> {
        (
            prop_oneof![Just("assets:bank".to_owned()), arb_text()],
            prop_oneof![Just("EUR"), Just("USD"), Just("")],
            any::<bool>(),
            arb_amount(),
            prop::option::of(arb_json()),
        )
            .prop_map(|(account, currency, debit, amount, extra)| {
                let side = if debit { "debit" } else { "credit" };
                let mut p = json!({"account": account, "currency": currency, side: amount});
                if let Some(extra) = extra {
                    p["memo"] = extra;
                }
                p
            })
    }

    /// Mostly valid events, with every member now and then of another kind.
    fn arb_event() -> impl Strategy<Value = Value> {
        let balanced =
            (1u32..10_000, prop_oneof![Just("EUR"), Just("USD")]).prop_map(|(cents, currency)| {
                let amount = format!("{}.{:02}", cents / 100, cents % 100);
                vec![
                    json!({"account": "assets:bank", "currency": currency, "debit": amount}),
                    json!({"account": "income:sales", "credit": amount, "currency": currency}),
                ]
            });
        (
            prop_oneof![
                4 => balanced,
                1 => prop::collection::vec(arb_posting(), 0..4),
            ],
            prop_oneof![4 => Just(json!({"n": 1})), 1 => arb_json()],
            prop_oneof![4 => (1u64..1 << 40).prop_map(|s| json!(s)), 1 => arb_json()],
            prop_oneof![4 => Just(json!("l1")), 1 => arb_json()],
            prop_oneof![
                4 => Just(json!("2026-11-24T10:00:00.000000Z")),
                1 => arb_json()
            ],
            prop::option::of((arb_text(), arb_json())),
        )
            .prop_map(|(postings, data, seq, ledger, recorded_at, extra)| {
                let mut e = json!({
                    "data": data, "postings": postings, "seq": seq, "ledger": ledger,
                    "recorded_at": recorded_at, "type": "transaction.posted",
                    "id": "0195e6f2-7b40-7a31-9c1e-000000000001",
                    "prev_hash": "ab".repeat(32),
                });
                if let Some((name, value)) = extra {
                    if name != "hash" {
                        e[name] = value;
                    }
                }
                e
            })
    }

    /// Other spellings of the same JSON, none of them RFC 8785's.
    const RESPELLINGS: &[(&str, &str)] = &[
        ("\\b", "\\u0008"),
        ("\\t", "\\u0009"),
        ("\\n", "\\u000a"),
        ("\\f", "\\u000c"),
        ("\\r", "\\u000d"),
        ("\\u001f", "\\u001F"),
        ("\\u0001", "\\u0001\\/"),
        ("/", "\\/"),
        ("\u{7f}", "\\u007f"),
        ("\u{e000}", "\\ue000"),
        ("😀", "\\ud83d\\ude00"),
        ("a", "\\u0061"),
        ("1", "1.0"),
        ("2", "2e0"),
        ("0", "-0"),
        (":", ": "),
        ("}", "\n}"),
    ];

    /// Small edits of a line: a byte changed, dropped or doubled, a space or a
    /// backslash added, or a piece spelt another way.
    fn mutate(line: &str, at: usize, how: u8) -> Vec<u8> {
        let mut bytes = line.as_bytes().to_vec();
        let at = at % bytes.len();
        if how % 7 >= 5 {
            let (from, to) = RESPELLINGS[at % RESPELLINGS.len()];
            return line.replacen(from, to, 1).into_bytes();
        }
        match how % 5 {
            0 => bytes[at] ^= 1 << (how % 7),
            1 => {
                bytes.remove(at);
            }
            2 => bytes.insert(at, bytes[at]),
            3 => bytes.insert(at, b' '),
            _ => bytes.insert(at, b'\\'),
        }
        bytes
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Whatever the fast path accepts, the general path accepts with the
        /// same members.
        #[test]
        fn the_fast_path_accepts_only_what_the_general_path_accepts(
            event in arb_event(), at in any::<usize>(), how in any::<u8>(),
        ) {
            let line = export_line(&event);
            let reordered = reversed(&event).map(|text| {
                let hash = crate::canonical::event_hash(&event);
                format!(r#"{},"hash":"{hash}"}}"#, text.strip_suffix('}').unwrap()).into_bytes()
            });
            let candidates = [Some(line.clone().into_bytes()), Some(mutate(&line, at, how)), reordered];
            for candidate in candidates.into_iter().flatten() {
                if let Some(fast) = fast(&candidate) {
                    prop_assert_eq!(Some(fast), general(&candidate));
                }
            }
        }

        /// And it does not give up on the lines the service writes.
        #[test]
        fn the_fast_path_takes_every_valid_export_line(event in arb_event()) {
            let line = export_line(&event);
            // Escaped strings in the members it reads send a line to the
            // general path, by design; so does any number but an integer.
            if general(line.as_bytes()).is_some() && in_domain(&event) && !line.contains('\\') {
                prop_assert!(read(line.as_bytes()).is_some(), "{}", line);
            }
        }

        /// The canonical scanner accepts exactly RFC 8785 text (in its domain).
        #[test]
        fn the_scanner_accepts_canonical_text(value in arb_json(), at in any::<usize>(), how in any::<u8>()) {
            let text = String::from_utf8(canonical_bytes(&value)).unwrap();
            if in_domain(&value) {
                prop_assert!(is_canonical(&text), "{}", text);
            }
            if let Some(reversed) = reversed(&value) {
                prop_assert!(!is_canonical(&reversed), "{}", reversed);
            }
            let edited = mutate(&text, at, how);
            if let Ok(edited) = std::str::from_utf8(&edited) {
                if is_canonical(edited) {
                    let parsed: Value = serde_json::from_str(edited).unwrap();
                    prop_assert_eq!(canonical_bytes(&parsed), edited.as_bytes());
                }
            }
        }
    }

    /// `value` in RFC 8785 form but for the members of its outermost object,
    /// which come in reverse order.
    fn reversed(value: &Value) -> Option<String> {
        let map = value.as_object().filter(|m| m.len() >= 2)?;
        let members: Vec<String> = map
            .iter()
            .rev()
            .map(|(name, v)| {
                let name = String::from_utf8(canonical_bytes(&json!(name))).unwrap();
                let v = String::from_utf8(canonical_bytes(v)).unwrap();
                format!("{name}:{v}")
            })
            .collect();
        Some(format!("{{{}}}", members.join(",")))
    }

    fn in_domain(value: &Value) -> bool {
        match value {
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => i.unsigned_abs() <= EXACT_MAX,
                (None, Some(u)) => u <= EXACT_MAX,
                _ => false,
            },
            Value::Array(items) => items.iter().all(in_domain),
            Value::Object(map) => map.iter().all(|(name, v)| {
                !name
                    .chars()
                    .any(|c| !(' '..'\u{e000}').contains(&c) || c == '"' || c == '\\')
                    && in_domain(v)
            }),
            _ => true,
        }
    }

    #[test]
    fn a_service_line_takes_the_fast_path_and_hash_may_sit_anywhere() {
        let event = json!({
            "data": {"description": "tab\there", "n": [1, -2, true, null]},
            "id": "0195e6f2-7b40-7a31-9c1e-000000000001",
            "ledger": "l1",
            "postings": [
                {"account": "assets:bank", "currency": "EUR", "debit": "1.50"},
                {"account": "income:sales", "credit": "1.5", "currency": "EUR"},
            ],
            "prev_hash": "ab".repeat(32),
            "recorded_at": "2026-11-24T10:00:00.000000Z",
            "seq": 2,
            "type": "transaction.posted",
        });
        let line = export_line(&event);
        assert!(read(format!("{line}\n").as_bytes()).is_some(), "{line}");
        let mut sorted = event.clone();
        sorted["hash"] = json!(crate::canonical::event_hash(&event));
        let sorted = serde_json::to_string(&sorted).unwrap();
        assert!(read(sorted.as_bytes()).is_some(), "{sorted}");
        // A space, a float, or an unbalanced amount: the general path decides.
        assert!(read(line.replacen(",", ", ", 1).as_bytes()).is_none());
        let mut float = event.clone();
        float["data"]["n"] = json!(1.5);
        assert!(read(export_line(&float).as_bytes()).is_none());
        let mut unbalanced = event;
        unbalanced["postings"][0]["debit"] = json!("1.51");
        assert!(read(export_line(&unbalanced).as_bytes()).is_none());
    }
}
