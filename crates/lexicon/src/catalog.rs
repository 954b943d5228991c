//! The catalog: every loaded definition, keyed for ref resolution.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use aerie_data::Value;
use aerie_syntax::Nsid;

use crate::ValidationError;
use crate::schema::{self, Def, KeyType, Schema};
use crate::validate::{Path, Validator};

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_schemas.rs"));
}

/// A set of lexicon documents with their references resolvable across documents.
///
/// Definitions are keyed `nsid` (a `main` def) or `nsid#name`. References are looked up when
/// validation reaches them, so documents may be added in any order.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    defs: HashMap<Box<str>, Def>,
    docs: BTreeSet<String>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// The schemas shipped with Aerie (`crates/lexicon/schemas`): every record type a PDS
    /// meets in `com.atproto.*`, `app.bsky.*` and `chat.bsky.*`, with every definition they
    /// reference. Parsed once, on first use.
    pub fn builtin() -> &'static Catalog {
        static BUILTIN: OnceLock<Catalog> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let mut c = Catalog::new();
            for text in builtin::BUILTIN {
                // The files are checked by this crate's tests; a broken one is a build bug.
                if let Err(e) = c.add_document(text) {
                    panic!("builtin lexicon does not load: {e}");
                }
            }
            c
        })
    }

    /// Parses a lexicon document (JSON text) and adds it. Returns its NSID.
    pub fn add_document(&mut self, json: &str) -> Result<Nsid, ValidationError> {
        let doc: serde_json::Value =
            serde_json::from_str(json).map_err(|e| ValidationError::InvalidLexicon {
                id: "?".into(),
                reason: format!("not JSON: {e}"),
            })?;
        self.add_document_json(&doc)
    }

    /// Checks a parsed lexicon document and adds it. Returns its NSID. A document whose NSID
    /// is already present is refused (the catalog never silently replaces a schema).
    pub fn add_document_json(&mut self, doc: &serde_json::Value) -> Result<Nsid, ValidationError> {
        let doc = schema::parse_document(doc)?;
        if self.docs.contains(doc.id.as_str()) {
            return Err(ValidationError::DuplicateLexicon {
                id: doc.id.as_str().to_owned(),
            });
        }
        self.docs.insert(doc.id.as_str().to_owned());
        self.defs.extend(doc.defs);
        Ok(doc.id)
    }

    /// Checks a lexicon document without adding it anywhere.
    pub fn check_document(doc: &serde_json::Value) -> Result<Nsid, ValidationError> {
        schema::parse_document(doc).map(|d| d.id)
    }

    /// Whether a document with this NSID is loaded.
    pub fn contains(&self, nsid: &Nsid) -> bool {
        self.docs.contains(nsid.as_str())
    }

    /// NSIDs of the loaded documents, in order.
    pub fn documents(&self) -> impl Iterator<Item = &str> {
        self.docs.iter().map(String::as_str)
    }

    /// NSIDs of the record types loaded, in order.
    pub fn record_types(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .defs
            .iter()
            .filter(|(_, d)| matches!(d, Def::Record { .. }))
            .map(|(k, _)| &**k)
            .collect();
        out.sort_unstable();
        out
    }

    /// The record key type of a record schema, if `nsid` names one.
    pub fn record_key_type(&self, nsid: &Nsid) -> Option<&KeyType> {
        match self.defs.get(nsid.as_str()) {
            Some(Def::Record { key, .. }) => Some(key),
            _ => None,
        }
    }

    pub(crate) fn def(&self, key: &str) -> Option<&Def> {
        self.defs.get(key)
    }

    /// Every reference (ref or union member) that names a definition not in the catalog, as
    /// `(where, missing)` pairs, sorted. Empty for a self-contained catalog.
    pub fn missing_refs(&self) -> Vec<(String, String)> {
        fn walk(s: &Schema, at: &str, c: &Catalog, out: &mut Vec<(String, String)>) {
            match s {
                Schema::Ref(r) if c.def(r).is_none() => {
                    out.push((at.to_owned(), r.to_string()));
                }
                Schema::Union { refs, .. } => {
                    for r in refs.iter().filter(|r| c.def(r).is_none()) {
                        out.push((at.to_owned(), r.to_string()));
                    }
                }
                Schema::Array { items, .. } => walk(items, at, c, out),
                Schema::Object(o) => {
                    for p in &o.properties {
                        walk(&p.schema, at, c, out);
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        for (key, def) in &self.defs {
            match def {
                Def::Record { record: o, .. } | Def::Object(o) => {
                    for p in &o.properties {
                        walk(&p.schema, key, self, &mut out);
                    }
                }
                Def::Field(s) => walk(s, key, self, &mut out),
                Def::Token | Def::Endpoint => {}
            }
        }
        out.sort();
        out
    }

    /// Validates a record against the record schema `nsid`, as `@atproto/lexicon`'s
    /// `assertValidRecord` does: the record must be an object whose `$type` is `nsid`, and
    /// must satisfy the schema.
    pub fn validate_record(&self, nsid: &Nsid, record: &Value) -> Result<(), ValidationError> {
        let v = Validator {
            catalog: self,
            collection: nsid.as_str(),
        };
        let schema = self.record_schema(nsid)?;
        let Value::Map(map) = record else {
            return Err(ValidationError::InvalidRecord {
                collection: nsid.as_str().to_owned(),
                path: "Record".into(),
                rule: "must be an object".into(),
            });
        };
        match map.get("$type") {
            // A record's `$type` is the bare NSID; `#main` is invalid here (Lexicon spec).
            Some(Value::String(t)) if t == nsid.as_str() => {}
            Some(Value::String(t)) => {
                return Err(ValidationError::TypeMismatch {
                    expected: nsid.as_str().to_owned(),
                    actual: t.clone(),
                });
            }
            _ => {
                return Err(ValidationError::InvalidRecord {
                    collection: nsid.as_str().to_owned(),
                    path: "Record/$type".into(),
                    rule: "must be a string".into(),
                });
            }
        }
        v.object(&Path::Root, schema, record)
    }

    /// Validates a record's fields against schema `nsid` without looking at its `$type`
    /// (the PDS fills a missing `$type` in from the collection).
    pub(crate) fn validate_fields(
        &self,
        nsid: &Nsid,
        record: &Value,
    ) -> Result<(), ValidationError> {
        let schema = self.record_schema(nsid)?;
        Validator {
            catalog: self,
            collection: nsid.as_str(),
        }
        .object(&Path::Root, schema, record)
    }

    fn record_schema(&self, nsid: &Nsid) -> Result<&schema::ObjectSchema, ValidationError> {
        match self.defs.get(nsid.as_str()) {
            Some(Def::Record { record, .. }) => Ok(record),
            Some(_) => Err(ValidationError::InvalidRecord {
                collection: nsid.as_str().to_owned(),
                path: "Record/$type".into(),
                rule: format!("must name a record type, and {nsid} is not one"),
            }),
            None => Err(ValidationError::UnknownLexicon {
                nsid: nsid.as_str().to_owned(),
            }),
        }
    }
}
