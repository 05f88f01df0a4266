//! A bounded, allocation-light walk over JSON text: every leaf with its JSON pointer, and a
//! merged schema of the shape (for the endpoint inventory and OpenAPI).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

use crate::har::Text;

/// A scalar found in JSON.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Leaf<'x> {
    Str(&'x str),
    /// A number, as text (integers exactly; floats in Rust's shortest form).
    Num(&'x str),
    Bool(bool),
    Null,
}

impl Leaf<'_> {
    pub fn kind(&self) -> JsonKind {
        match self {
            Leaf::Str(_) => JsonKind::String,
            Leaf::Num(n) if n.contains(['.', 'e', 'E']) => JsonKind::Number,
            Leaf::Num(_) => JsonKind::Integer,
            Leaf::Bool(_) => JsonKind::Boolean,
            Leaf::Null => JsonKind::Null,
        }
    }
}

/// JSON types, as in JSON Schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JsonKind {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Object,
    Array,
}

impl JsonKind {
    pub fn name(self) -> &'static str {
        match self {
            JsonKind::Null => "null",
            JsonKind::Boolean => "boolean",
            JsonKind::Integer => "integer",
            JsonKind::Number => "number",
            JsonKind::String => "string",
            JsonKind::Object => "object",
            JsonKind::Array => "array",
        }
    }
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
    const ALL: [JsonKind; 7] = [
        JsonKind::Null,
        JsonKind::Boolean,
        JsonKind::Integer,
        JsonKind::Number,
        JsonKind::String,
        JsonKind::Object,
        JsonKind::Array,
    ];
}

/// A set of JSON types.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Kinds(u8);

impl Kinds {
    pub fn add(&mut self, k: JsonKind) {
        self.0 |= k.bit();
    }
    pub fn union(&mut self, o: Kinds) {
        self.0 |= o.0;
    }
    pub fn names(self) -> Vec<&'static str> {
        let mut bits = self.0;
        // "integer" is a subset of "number": report only "number" when both were seen.
        if bits & JsonKind::Number.bit() != 0 {
            bits &= !JsonKind::Integer.bit();
        }
        JsonKind::ALL
            .iter()
            .filter(|k| bits & k.bit() != 0)
            .map(|k| k.name())
            .collect()
    }
}

/// The merged shape of JSON samples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    pub kinds: Kinds,
    pub props: BTreeMap<String, Schema>,
    pub items: Option<Box<Schema>>,
}

/// Most properties kept per object schema.
const MAX_PROPS: usize = 256;
/// Array elements beyond this many contribute leaves but not shape.
const SCHEMA_ITEMS: usize = 8;

impl Schema {
    pub fn merge(&mut self, o: Schema) {
        self.kinds.union(o.kinds);
        for (k, v) in o.props {
            if let Some(mine) = self.props.get_mut(&k) {
                mine.merge(v);
            } else if self.props.len() < MAX_PROPS {
                self.props.insert(k, v);
            }
        }
        match (&mut self.items, o.items) {
            (Some(a), Some(b)) => a.merge(*b),
            (None, Some(b)) => self.items = Some(b),
            _ => {}
        }
    }

    /// The top-level keys, sorted (the shape signature used for sibling collapse).
    pub fn signature(&self) -> String {
        let mut s = self.kinds.names().join("|");
        for k in self.props.keys() {
            s.push(',');
            s.push_str(k);
        }
        s
    }

    /// As a JSON Schema (2020-12, as OpenAPI 3.1 uses).
    pub fn to_json_schema(&self) -> Value {
        let names = self.kinds.names();
        let mut out = serde_json::Map::new();
        match names.len() {
            0 => {}
            1 => {
                out.insert("type".into(), json!(names[0]));
            }
            _ => {
                out.insert("type".into(), json!(names));
            }
        }
        if !self.props.is_empty() {
            let props: serde_json::Map<String, Value> = self
                .props
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json_schema()))
                .collect();
            out.insert("properties".into(), Value::Object(props));
        }
        if let Some(items) = &self.items {
            out.insert("items".into(), items.to_json_schema());
        }
        Value::Object(out)
    }
}

/// How a walk ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WalkNotes {
    /// Values deeper than the depth bound were skipped.
    pub too_deep: bool,
    /// The leaf budget ran out; later values were skipped.
    pub too_many: bool,
}

/// Walks `text` as JSON, calling `sink(pointer, leaf)` for each scalar in document order.
/// Returns the merged schema. Fails on malformed JSON (leaves seen before the error were
/// already delivered).
pub fn walk(
    text: &str,
    max_depth: usize,
    max_leaves: usize,
    sink: &mut dyn FnMut(&str, Leaf<'_>),
) -> Result<(Schema, WalkNotes), serde_json::Error> {
    let mut st = State {
        ptr: String::new(),
        depth: 0,
        max_depth,
        leaves: 0,
        max_leaves,
        numbuf: String::new(),
        notes: WalkNotes::default(),
        sink,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let schema = Seed {
        st: &mut st,
        shape: true,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok((schema, st.notes))
}

/// Appends `/<escaped segment>` to a JSON pointer.
pub fn push_pointer(ptr: &mut String, seg: &str) {
    ptr.push('/');
    if seg.contains(['~', '/']) {
        ptr.push_str(&seg.replace('~', "~0").replace('/', "~1"));
    } else {
        ptr.push_str(seg);
    }
}

/// Splits a JSON pointer into unescaped segments (`""` → none).
pub fn pointer_segments(ptr: &str) -> Vec<String> {
    if ptr.is_empty() {
        return Vec::new();
    }
    ptr.trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

struct State<'s> {
    ptr: String,
    depth: usize,
    max_depth: usize,
    leaves: usize,
    max_leaves: usize,
    numbuf: String,
    notes: WalkNotes,
    sink: &'s mut dyn FnMut(&str, Leaf<'_>),
}

impl State<'_> {
    fn leaf(&mut self, l: Leaf<'_>) {
        if self.leaves >= self.max_leaves {
            self.notes.too_many = true;
            return;
        }
        self.leaves += 1;
        (self.sink)(&self.ptr, l);
    }
    fn num(&mut self, v: impl fmt::Display) {
        let mut b = std::mem::take(&mut self.numbuf);
        b.clear();
        let _ = write!(b, "{v}");
        self.leaf(Leaf::Num(&b));
        self.numbuf = b;
    }
}

struct Seed<'a, 's> {
    st: &'a mut State<'s>,
    shape: bool,
}

fn scalar(k: JsonKind) -> Schema {
    let mut s = Schema::default();
    s.kinds.add(k);
    s
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_> {
    type Value = Schema;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Schema, D::Error> {
        if self.st.depth >= self.st.max_depth {
            self.st.notes.too_deep = true;
            IgnoredAny::deserialize(d)?;
            return Ok(Schema::default());
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_, '_> {
    type Value = Schema;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Schema, E> {
        self.st.leaf(Leaf::Str(v));
        Ok(scalar(JsonKind::String))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Schema, E> {
        self.st.num(v);
        Ok(scalar(JsonKind::Integer))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Schema, E> {
        self.st.num(v);
        Ok(scalar(JsonKind::Integer))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Schema, E> {
        self.st.num(v);
        Ok(scalar(JsonKind::Number))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Schema, E> {
        self.st.leaf(Leaf::Bool(v));
        Ok(scalar(JsonKind::Boolean))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Schema, E> {
        self.st.leaf(Leaf::Null);
        Ok(scalar(JsonKind::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Schema, A::Error> {
        let mut s = scalar(JsonKind::Array);
        let mut items: Option<Schema> = None;
        let st = self.st;
        st.depth += 1;
        let mut i = 0usize;
        loop {
            let len = st.ptr.len();
            st.ptr.push('/');
            let _ = write!(st.ptr, "{i}");
            let shape = self.shape && i < SCHEMA_ITEMS;
            let next = a.next_element_seed(Seed {
                st: &mut *st,
                shape,
            });
            st.ptr.truncate(len);
            match next {
                Ok(Some(child)) => {
                    if shape {
                        match &mut items {
                            Some(it) => it.merge(child),
                            None => items = Some(child),
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    st.depth -= 1;
                    return Err(e);
                }
            }
            i += 1;
        }
        st.depth -= 1;
        s.items = items.map(Box::new);
        Ok(s)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Schema, A::Error> {
        let mut s = scalar(JsonKind::Object);
        let st = self.st;
        st.depth += 1;
        loop {
            let key = match a.next_key::<Text<'de>>() {
                Ok(Some(k)) => k,
                Ok(None) => break,
                Err(e) => {
                    st.depth -= 1;
                    return Err(e);
                }
            };
            let len = st.ptr.len();
            push_pointer(&mut st.ptr, key.as_str());
            let next = a.next_value_seed(Seed {
                st: &mut *st,
                shape: self.shape,
            });
            st.ptr.truncate(len);
            match next {
                Ok(child) => {
                    if self.shape && s.props.len() < MAX_PROPS {
                        match s.props.get_mut(key.as_str()) {
                            Some(p) => p.merge(child),
                            None => {
                                s.props.insert(key.0.into_owned(), child);
                            }
                        }
                    }
                }
                Err(e) => {
                    st.depth -= 1;
                    return Err(e);
                }
            }
        }
        st.depth -= 1;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(text: &str, depth: usize) -> (Vec<(String, String)>, WalkNotes) {
        let mut out = Vec::new();
        let r = walk(text, depth, 1000, &mut |p, l| {
            let v = match l {
                Leaf::Str(s) | Leaf::Num(s) => s.to_string(),
                Leaf::Bool(b) => b.to_string(),
                Leaf::Null => "null".into(),
            };
            out.push((p.to_string(), v));
        });
        (out, r.map(|x| x.1).unwrap_or_default())
    }

    #[test]
    fn pointers_and_numbers() {
        let (l, _) = leaves(r#"{"a":{"b/c":[1,"x",2.5,true,null]},"~":-3}"#, 64);
        assert_eq!(
            l,
            vec![
                ("/a/b~1c/0".into(), "1".into()),
                ("/a/b~1c/1".into(), "x".into()),
                ("/a/b~1c/2".into(), "2.5".into()),
                ("/a/b~1c/3".into(), "true".into()),
                ("/a/b~1c/4".into(), "null".into()),
                ("/~0".into(), "-3".into()),
            ]
        );
        assert_eq!(pointer_segments("/a/b~1c/0"), vec!["a", "b/c", "0"]);
    }

    #[test]
    fn depth_bound_skips_without_error() {
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        let (l, notes) = leaves(&deep, 10);
        assert!(l.is_empty());
        assert!(notes.too_deep);
    }

    #[test]
    fn schema_merges() {
        let (s, _) = walk(r#"[{"a":1},{"a":"x","b":null}]"#, 64, 100, &mut |_, _| {}).unwrap();
        let js = s.to_json_schema();
        assert_eq!(
            js["items"]["properties"]["a"]["type"],
            json!(["integer", "string"])
        );
    }
}
