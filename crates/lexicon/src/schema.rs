//! Lexicon documents: parsing schema JSON into the compiled form validation walks.
//!
//! Parsing checks a document against the Lexicon language (version 1): which types may be
//! named defs, that primary types are called `main`, field-level constraints of the right
//! JSON types, and reference syntax. Refs are normalised here to catalog keys (`nsid` for a
//! `main` def, `nsid#name` otherwise) so validation never rewrites strings.

use std::collections::HashSet;

use aerie_syntax::{Nsid, RecordKey};
use serde_json::{Map, Value as Json};

use crate::ValidationError;

/// The record key type a record schema declares (`key`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyType {
    /// `tid`: a timestamp identifier.
    Tid,
    /// `nsid`: an NSID.
    Nsid,
    /// `any`: any valid record key.
    Any,
    /// `literal:<value>`: exactly this key (`literal:self` for profiles).
    Literal(String),
}

/// A `string` field's constraints.
#[derive(Debug, Clone, Default)]
pub(crate) struct StringSchema {
    pub format: Option<Format>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_graphemes: Option<u64>,
    pub max_graphemes: Option<u64>,
    pub enum_: Option<Box<[String]>>,
    pub const_: Option<String>,
    pub default: Option<String>,
}

/// The string formats of the Lexicon language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    AtIdentifier,
    AtUri,
    Cid,
    Datetime,
    Did,
    Handle,
    Nsid,
    Tid,
    RecordKey,
    Uri,
    Language,
}

impl Format {
    fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "at-identifier" => Format::AtIdentifier,
            "at-uri" => Format::AtUri,
            "cid" => Format::Cid,
            "datetime" => Format::Datetime,
            "did" => Format::Did,
            "handle" => Format::Handle,
            "nsid" => Format::Nsid,
            "tid" => Format::Tid,
            "record-key" => Format::RecordKey,
            "uri" => Format::Uri,
            "language" => Format::Language,
            _ => return None,
        })
    }
}

/// An `integer` field's constraints.
#[derive(Debug, Clone, Default)]
pub(crate) struct IntegerSchema {
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
    pub enum_: Option<Box<[i64]>>,
    pub const_: Option<i64>,
    pub default: Option<i64>,
}

/// A field schema: what may appear at one place in a record.
#[derive(Debug, Clone)]
pub(crate) enum Schema {
    Boolean {
        const_: Option<bool>,
        default: Option<bool>,
    },
    Integer(Box<IntegerSchema>),
    String(Box<StringSchema>),
    Bytes {
        min_length: Option<u64>,
        max_length: Option<u64>,
    },
    CidLink,
    Blob {
        accept: Option<Box<[String]>>,
        max_size: Option<u64>,
    },
    Array {
        items: Box<Schema>,
        min_length: Option<u64>,
        max_length: Option<u64>,
    },
    Object(Box<ObjectSchema>),
    Ref(Box<str>),
    Union {
        refs: Box<[Box<str>]>,
        closed: bool,
    },
    Unknown,
}

impl Schema {
    /// Whether a missing value is filled in by a default (the reference then treats a missing
    /// required property as present).
    pub(crate) fn has_default(&self) -> bool {
        match self {
            Schema::Boolean { default, .. } => default.is_some(),
            Schema::Integer(i) => i.default.is_some(),
            Schema::String(s) => s.default.is_some(),
            _ => false,
        }
    }
}

/// One property of an object schema.
#[derive(Debug, Clone)]
pub(crate) struct Property {
    pub name: Box<str>,
    pub schema: Schema,
    pub required: bool,
    pub nullable: bool,
}

/// An `object` schema.
#[derive(Debug, Clone, Default)]
pub(crate) struct ObjectSchema {
    pub properties: Vec<Property>,
}

/// A named definition in a document.
#[derive(Debug, Clone)]
pub(crate) enum Def {
    Record {
        key: KeyType,
        record: ObjectSchema,
    },
    Object(ObjectSchema),
    Token,
    /// A named boolean/integer/string/bytes/cid-link/blob/array definition.
    Field(Schema),
    /// query, procedure, subscription, permission-set: checked when loaded, never data.
    Endpoint,
}

/// A parsed document: its NSID and its defs keyed as the catalog keys them.
pub(crate) struct Document {
    pub id: Nsid,
    pub defs: Vec<(Box<str>, Def)>,
}

/// Parses and checks one lexicon document.
pub(crate) fn parse_document(doc: &Json) -> Result<Document, ValidationError> {
    let id_for_errors = doc
        .get("id")
        .and_then(Json::as_str)
        .unwrap_or("?")
        .to_owned();
    let bad = |reason: String| ValidationError::InvalidLexicon {
        id: id_for_errors.clone(),
        reason,
    };
    let obj = doc
        .as_object()
        .ok_or_else(|| bad("document must be an object".into()))?;
    match obj.get("lexicon") {
        Some(v) if v.as_i64() == Some(1) => {}
        _ => return Err(bad("\"lexicon\" must be the integer 1".into())),
    }
    let id = match obj.get("id") {
        Some(Json::String(s)) => {
            Nsid::parse(s).map_err(|_| bad(format!("\"id\" is not a valid NSID: {s:?}")))?
        }
        _ => return Err(bad("\"id\" must be a string".into())),
    };
    opt_str(obj, "description").map_err(&bad)?;
    let defs = match obj.get("defs") {
        Some(Json::Object(d)) if !d.is_empty() => d,
        Some(Json::Object(_)) => return Err(bad("\"defs\" must not be empty".into())),
        _ => return Err(bad("\"defs\" must be an object".into())),
    };
    let ctx = Ctx {
        doc_id: id.as_str(),
    };
    let mut out = Vec::with_capacity(defs.len());
    for (name, def) in defs {
        if name.is_empty() || name.contains('#') {
            return Err(bad(format!("def name {name:?} is not allowed")));
        }
        let def = ctx
            .named_def(name, def)
            .map_err(|e| bad(format!("defs.{name}{e}")))?;
        let key = if name == "main" {
            id.as_str().into()
        } else {
            format!("{}#{name}", id.as_str()).into_boxed_str()
        };
        out.push((key, def));
    }
    Ok(Document { id, defs: out })
}

/// Parsing context: the document whose local refs (`#name`) are being resolved.
struct Ctx<'a> {
    doc_id: &'a str,
}

/// Errors inside a def are built as `<.field path>: <reason>` and prefixed by the caller.
type R<T> = Result<T, String>;

fn err<T>(at: &str, reason: impl std::fmt::Display) -> R<T> {
    Err(format!("{at}: {reason}"))
}

fn nest(field: &str) -> impl Fn(String) -> String + '_ {
    move |e| format!(".{field}{e}")
}

fn as_obj(v: &Json) -> R<&Map<String, Json>> {
    v.as_object()
        .map_or_else(|| err("", "must be an object"), Ok)
}

fn type_of(o: &Map<String, Json>) -> R<&str> {
    match o.get("type") {
        Some(Json::String(t)) => Ok(t),
        _ => err("", "must have a string \"type\""),
    }
}

fn opt_str<'j>(o: &'j Map<String, Json>, k: &str) -> R<Option<&'j str>> {
    match o.get(k) {
        None => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(_) => err(&format!(".{k}"), "must be a string"),
    }
}

fn opt_bool(o: &Map<String, Json>, k: &str) -> R<Option<bool>> {
    match o.get(k) {
        None => Ok(None),
        Some(Json::Bool(b)) => Ok(Some(*b)),
        Some(_) => err(&format!(".{k}"), "must be a boolean"),
    }
}

fn opt_int(o: &Map<String, Json>, k: &str) -> R<Option<i64>> {
    match o.get(k) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .map_or_else(|| err(&format!(".{k}"), "must be an integer"), Ok),
    }
}

fn opt_len(o: &Map<String, Json>, k: &str) -> R<Option<u64>> {
    match o.get(k) {
        None => Ok(None),
        Some(v) => v.as_u64().map(Some).map_or_else(
            || err(&format!(".{k}"), "must be a non-negative integer"),
            Ok,
        ),
    }
}

fn opt_str_list(o: &Map<String, Json>, k: &str) -> R<Option<Vec<String>>> {
    match o.get(k) {
        None => Ok(None),
        Some(Json::Array(a)) => a
            .iter()
            .map(|v| match v {
                Json::String(s) => Ok(s.clone()),
                _ => err(&format!(".{k}"), "must be an array of strings"),
            })
            .collect::<R<Vec<_>>>()
            .map(Some),
        Some(_) => err(&format!(".{k}"), "must be an array of strings"),
    }
}

impl Ctx<'_> {
    fn named_def(&self, name: &str, v: &Json) -> R<Def> {
        let o = as_obj(v)?;
        let ty = type_of(o)?;
        opt_str(o, "description")?;
        let primary = matches!(
            ty,
            "record" | "query" | "procedure" | "subscription" | "permission-set"
        );
        if primary && name != "main" {
            return err("", format!("primary type {ty:?} must be the \"main\" def"));
        }
        Ok(match ty {
            "record" => self.record(o)?,
            "query" | "procedure" | "subscription" => {
                self.endpoint(ty, o)?;
                Def::Endpoint
            }
            "permission-set" => {
                permission_set(o)?;
                Def::Endpoint
            }
            "object" => Def::Object(self.object(o)?),
            "token" => Def::Token,
            "boolean" | "integer" | "string" | "bytes" | "cid-link" | "blob" | "array" => {
                Def::Field(self.field(v)?)
            }
            other => return err("", format!("type {other:?} can not be a named def")),
        })
    }

    fn record(&self, o: &Map<String, Json>) -> R<Def> {
        let key = match opt_str(o, "key")? {
            Some("tid") => KeyType::Tid,
            Some("nsid") => KeyType::Nsid,
            Some("any") => KeyType::Any,
            Some(k) => match k.strip_prefix("literal:") {
                Some(lit) if RecordKey::parse(lit).is_ok() => KeyType::Literal(lit.to_owned()),
                _ => return err(".key", format!("{k:?} is not a record key type")),
            },
            None => return err(".key", "is required"),
        };
        let rec = o
            .get("record")
            .map_or_else(|| err(".record", "is required"), Ok)?;
        let ro = as_obj(rec).map_err(nest("record"))?;
        if type_of(ro).map_err(nest("record"))? != "object" {
            return err(".record", "must have type \"object\"");
        }
        let record = self.object(ro).map_err(nest("record"))?;
        Ok(Def::Record { key, record })
    }

    fn object(&self, o: &Map<String, Json>) -> R<ObjectSchema> {
        let required = opt_str_list(o, "required")?.unwrap_or_default();
        let nullable = opt_str_list(o, "nullable")?.unwrap_or_default();
        let empty = Map::new();
        let props = match o.get("properties") {
            None => &empty,
            Some(Json::Object(p)) => p,
            Some(_) => return err(".properties", "must be an object"),
        };
        for r in &required {
            if !props.contains_key(r) {
                return err(".required", format!("required field {r:?} is not defined"));
            }
        }
        let required: HashSet<&str> = required.iter().map(String::as_str).collect();
        let nullable: HashSet<&str> = nullable.iter().map(String::as_str).collect();
        let mut properties = Vec::with_capacity(props.len());
        for (name, p) in props {
            let schema = self
                .field(p)
                .map_err(|e| format!(".properties.{name}{e}"))?;
            properties.push(Property {
                name: name.as_str().into(),
                schema,
                required: required.contains(name.as_str()),
                nullable: nullable.contains(name.as_str()),
            });
        }
        Ok(ObjectSchema { properties })
    }

    /// A schema in a field position: object property, array items, or a named field def.
    fn field(&self, v: &Json) -> R<Schema> {
        let o = as_obj(v)?;
        let ty = type_of(o)?;
        opt_str(o, "description")?;
        Ok(match ty {
            "boolean" => Schema::Boolean {
                const_: opt_bool(o, "const")?,
                default: opt_bool(o, "default")?,
            },
            "integer" => {
                let s = IntegerSchema {
                    minimum: opt_int(o, "minimum")?,
                    maximum: opt_int(o, "maximum")?,
                    enum_: match o.get("enum") {
                        None => None,
                        Some(Json::Array(a)) => Some(
                            a.iter()
                                .map(|x| {
                                    x.as_i64()
                                        .map_or_else(|| err(".enum", "must be integers"), Ok)
                                })
                                .collect::<R<Vec<i64>>>()?
                                .into_boxed_slice(),
                        ),
                        Some(_) => return err(".enum", "must be an array"),
                    },
                    const_: opt_int(o, "const")?,
                    default: opt_int(o, "default")?,
                };
                if s.const_.is_some() && s.default.is_some() {
                    return err("", "const and default are mutually exclusive");
                }
                Schema::Integer(Box::new(s))
            }
            "string" => {
                let format = match opt_str(o, "format")? {
                    None => None,
                    Some(f) => Some(
                        Format::parse(f)
                            .map_or_else(|| err(".format", format!("unknown format {f:?}")), Ok)?,
                    ),
                };
                opt_str_list(o, "knownValues")?;
                let s = StringSchema {
                    format,
                    min_length: opt_len(o, "minLength")?,
                    max_length: opt_len(o, "maxLength")?,
                    min_graphemes: opt_len(o, "minGraphemes")?,
                    max_graphemes: opt_len(o, "maxGraphemes")?,
                    enum_: opt_str_list(o, "enum")?.map(Vec::into_boxed_slice),
                    const_: opt_str(o, "const")?.map(str::to_owned),
                    default: opt_str(o, "default")?.map(str::to_owned),
                };
                if s.const_.is_some() && s.default.is_some() {
                    return err("", "const and default are mutually exclusive");
                }
                Schema::String(Box::new(s))
            }
            "bytes" => Schema::Bytes {
                min_length: opt_len(o, "minLength")?,
                max_length: opt_len(o, "maxLength")?,
            },
            "cid-link" => Schema::CidLink,
            "blob" => {
                let accept = opt_str_list(o, "accept")?;
                if let Some(a) = &accept {
                    for m in a {
                        if !valid_accept(m) {
                            return err(".accept", format!("{m:?} is not a MIME type or glob"));
                        }
                    }
                }
                Schema::Blob {
                    accept: accept.map(Vec::into_boxed_slice),
                    max_size: opt_len(o, "maxSize")?,
                }
            }
            "array" => {
                let items = o
                    .get("items")
                    .map_or_else(|| err(".items", "is required"), Ok)?;
                Schema::Array {
                    items: Box::new(self.field(items).map_err(nest("items"))?),
                    min_length: opt_len(o, "minLength")?,
                    max_length: opt_len(o, "maxLength")?,
                }
            }
            "object" => Schema::Object(Box::new(self.object(o)?)),
            "ref" => match opt_str(o, "ref")? {
                Some(r) => Schema::Ref(self.reference(r).map_err(nest("ref"))?),
                None => return err(".ref", "is required"),
            },
            "union" => {
                let refs =
                    opt_str_list(o, "refs")?.map_or_else(|| err(".refs", "is required"), Ok)?;
                let closed = opt_bool(o, "closed")?.unwrap_or(false);
                if closed && refs.is_empty() {
                    return err(".refs", "a closed union needs at least one ref");
                }
                let refs = refs
                    .iter()
                    .map(|r| self.reference(r).map_err(nest("refs")))
                    .collect::<R<Vec<_>>>()?;
                Schema::Union {
                    refs: refs.into_boxed_slice(),
                    closed,
                }
            }
            "unknown" => Schema::Unknown,
            other => return err("", format!("type {other:?} can not be used as a field")),
        })
    }

    /// Normalises `#name`, `nsid`, `nsid#main` and `nsid#name` to the catalog's key form.
    fn reference(&self, r: &str) -> R<Box<str>> {
        let bad = || format!(": {r:?} is not a valid reference");
        let (nsid, name) = match r.split_once('#') {
            Some(("", n)) => (self.doc_id, n),
            Some((n, f)) => (n, f),
            None => (r, "main"),
        };
        if nsid != self.doc_id && Nsid::parse(nsid).is_err() {
            return Err(bad());
        }
        if name.is_empty() || name.contains('#') {
            return Err(bad());
        }
        Ok(if name == "main" {
            nsid.into()
        } else {
            format!("{nsid}#{name}").into()
        })
    }

    fn endpoint(&self, ty: &str, o: &Map<String, Json>) -> R<()> {
        if let Some(p) = o.get("parameters") {
            self.params(p).map_err(nest("parameters"))?;
        }
        for body in ["input", "output"] {
            if body == "input" && ty != "procedure" && o.contains_key("input") {
                return err(".input", format!("is not allowed on a {ty}"));
            }
            if ty == "subscription" && body == "output" && o.contains_key("output") {
                return err(".output", "is not allowed on a subscription");
            }
            if let Some(b) = o.get(body) {
                let bo = as_obj(b).map_err(nest(body))?;
                opt_str(bo, "description").map_err(nest(body))?;
                if opt_str(bo, "encoding").map_err(nest(body))?.is_none() {
                    return err(&format!(".{body}.encoding"), "is required");
                }
                if let Some(s) = bo.get("schema") {
                    self.body_schema(s)
                        .map_err(|e| format!(".{body}.schema{e}"))?;
                }
            }
        }
        if ty == "subscription" {
            let m = o
                .get("message")
                .map_or_else(|| err(".message", "is required"), Ok)?;
            let mo = as_obj(m).map_err(nest("message"))?;
            let s = mo
                .get("schema")
                .map_or_else(|| err(".message.schema", "is required"), Ok)?;
            let so = as_obj(s).map_err(nest("message.schema"))?;
            if type_of(so).map_err(nest("message.schema"))? != "union" {
                return err(".message.schema", "must be a union");
            }
            self.field(s).map_err(nest("message.schema"))?;
        }
        if let Some(errors) = o.get("errors") {
            let Json::Array(list) = errors else {
                return err(".errors", "must be an array");
            };
            for e in list {
                let eo = as_obj(e).map_err(nest("errors"))?;
                if opt_str(eo, "name").map_err(nest("errors"))?.is_none() {
                    return err(".errors", "every error needs a name");
                }
            }
        }
        Ok(())
    }

    fn body_schema(&self, v: &Json) -> R<()> {
        let o = as_obj(v)?;
        match type_of(o)? {
            "object" | "ref" | "union" => self.field(v).map(|_| ()),
            other => err("", format!("a body schema can not be {other:?}")),
        }
    }

    fn params(&self, v: &Json) -> R<()> {
        let o = as_obj(v)?;
        if type_of(o)? != "params" {
            return err("", "must have type \"params\"");
        }
        let required = opt_str_list(o, "required")?.unwrap_or_default();
        let props = match o.get("properties") {
            None => return Ok(()),
            Some(Json::Object(p)) => p,
            Some(_) => return err(".properties", "must be an object"),
        };
        for r in &required {
            if !props.contains_key(r) {
                return err(".required", format!("required field {r:?} is not defined"));
            }
        }
        for (name, p) in props {
            let at = |e: String| format!(".properties.{name}{e}");
            let po = as_obj(p).map_err(at)?;
            let ok = match type_of(po).map_err(at)? {
                "boolean" | "integer" | "string" | "unknown" => true,
                "array" => po
                    .get("items")
                    .and_then(Json::as_object)
                    .and_then(|i| i.get("type"))
                    .and_then(Json::as_str)
                    .is_some_and(|t| matches!(t, "boolean" | "integer" | "string" | "unknown")),
                _ => false,
            };
            if !ok {
                return Err(at(
                    ": params may only hold booleans, integers, strings and arrays of them".into(),
                ));
            }
            self.field(p).map_err(at)?;
        }
        Ok(())
    }
}

fn permission_set(o: &Map<String, Json>) -> R<()> {
    opt_str(o, "title")?;
    opt_str(o, "detail")?;
    for k in ["title:lang", "detail:lang"] {
        match o.get(k) {
            None => {}
            Some(Json::Object(m)) if m.values().all(Json::is_string) => {}
            Some(_) => return err(&format!(".{k}"), "must map language tags to strings"),
        }
    }
    let Some(Json::Array(perms)) = o.get("permissions") else {
        return err(".permissions", "must be an array");
    };
    for p in perms {
        let po = as_obj(p).map_err(nest("permissions"))?;
        if type_of(po).map_err(nest("permissions"))? != "permission" {
            return err(".permissions", "every entry must have type \"permission\"");
        }
        if opt_str(po, "resource")
            .map_err(nest("permissions"))?
            .is_none()
        {
            return err(".permissions", "every entry needs a \"resource\"");
        }
    }
    Ok(())
}

/// `type/subtype`, `type/*` or `*/*`; partial globs and a lone `*` are not supported.
fn valid_accept(m: &str) -> bool {
    let Some((ty, sub)) = m.split_once('/') else {
        return false;
    };
    let token = |s: &str| !s.is_empty() && !s.contains('*') && !s.contains('/');
    if ty == "*" {
        return sub == "*";
    }
    token(ty) && (sub == "*" || token(sub))
}
