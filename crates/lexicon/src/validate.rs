//! Validating data-model values against compiled schemas.
//!
//! The walk follows `@atproto/lexicon` closely (same order of checks, same messages) so that
//! the first error reported is the one the reference would report. Paths are kept as a
//! borrowed linked list and only rendered to a string when something fails, which keeps the
//! happy path free of allocation.

use std::collections::BTreeMap;

use aerie_data::Value;

use crate::ValidationError;
use crate::catalog::Catalog;
use crate::formats;
use crate::schema::{Def, ObjectSchema, Schema};

/// Records nest far less than this; the limit only stops hostile input from exhausting the
/// stack through a recursive schema.
const MAX_DEPTH: usize = 128;

/// Where a value sits in the record, rendered like the reference: `Record/embed/images/0`.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn render(&self) -> String {
        let mut parts = Vec::new();
        let mut at = self;
        loop {
            match at {
                Path::Root => break,
                Path::Key(parent, k) => {
                    parts.push((*k).to_owned());
                    at = parent;
                }
                Path::Index(parent, i) => {
                    parts.push(i.to_string());
                    at = parent;
                }
            }
        }
        let mut out = String::from("Record");
        for p in parts.iter().rev() {
            out.push('/');
            out.push_str(p);
        }
        out
    }

    fn depth(&self) -> usize {
        let mut n = 0;
        let mut at = self;
        while let Path::Key(p, _) | Path::Index(p, _) = at {
            n += 1;
            at = p;
        }
        n
    }
}

pub(crate) struct Validator<'c> {
    pub catalog: &'c Catalog,
    pub collection: &'c str,
}

type Res = Result<(), ValidationError>;

impl Validator<'_> {
    fn fail(&self, path: &Path<'_>, rule: impl Into<String>) -> ValidationError {
        ValidationError::InvalidRecord {
            collection: self.collection.to_owned(),
            path: path.render(),
            rule: rule.into(),
        }
    }

    fn resolve(&self, path: &Path<'_>, key: &str) -> Result<&Def, ValidationError> {
        self.catalog
            .def(key)
            .ok_or_else(|| ValidationError::UnresolvedRef {
                path: path.render(),
                reference: key.to_owned(),
            })
    }

    pub(crate) fn object(&self, path: &Path<'_>, schema: &ObjectSchema, v: &Value) -> Res {
        let Value::Map(map) = v else {
            return Err(self.fail(path, "must be an object"));
        };
        self.properties(path, schema, map)
    }

    fn properties(
        &self,
        path: &Path<'_>,
        schema: &ObjectSchema,
        map: &BTreeMap<String, Value>,
    ) -> Res {
        if path.depth() > MAX_DEPTH {
            return Err(self.fail(path, "is nested too deeply"));
        }
        for prop in &schema.properties {
            match map.get(&*prop.name) {
                None => {
                    // A default fills a missing value in, so the reference lets a required
                    // property with a default be absent.
                    if prop.required && !prop.schema.has_default() {
                        return Err(
                            self.fail(path, format!("must have the property \"{}\"", prop.name))
                        );
                    }
                }
                Some(Value::Null) if prop.nullable => {}
                Some(value) => self.schema(&Path::Key(path, &prop.name), &prop.schema, value)?,
            }
        }
        Ok(())
    }

    fn def(&self, path: &Path<'_>, def: &Def, v: &Value) -> Res {
        match def {
            Def::Object(o) => self.object(path, o, v),
            Def::Record { record, .. } => self.object(path, record, v),
            Def::Field(s) => self.schema(path, s, v),
            Def::Token => Err(self.fail(path, "refers to a token, which has no data")),
            Def::Endpoint => Err(self.fail(path, "refers to an endpoint, which has no data")),
        }
    }

    fn schema(&self, path: &Path<'_>, schema: &Schema, v: &Value) -> Res {
        match schema {
            Schema::Boolean { const_, .. } => {
                let Value::Bool(b) = v else {
                    return Err(self.fail(path, "must be a boolean"));
                };
                match const_ {
                    Some(c) if c != b => Err(self.fail(path, format!("must be {c}"))),
                    _ => Ok(()),
                }
            }
            Schema::Integer(s) => {
                let Value::Integer(i) = *v else {
                    return Err(self.fail(path, "must be an integer"));
                };
                if let Some(c) = s.const_
                    && i != c
                {
                    return Err(self.fail(path, format!("must be {c}")));
                }
                if let Some(e) = &s.enum_
                    && !e.contains(&i)
                {
                    let list: Vec<String> = e.iter().map(i64::to_string).collect();
                    return Err(self.fail(path, format!("must be one of ({})", list.join("|"))));
                }
                if let Some(max) = s.maximum
                    && i > max
                {
                    return Err(self.fail(path, format!("can not be greater than {max}")));
                }
                if let Some(min) = s.minimum
                    && i < min
                {
                    return Err(self.fail(path, format!("can not be less than {min}")));
                }
                Ok(())
            }
            Schema::String(s) => {
                let Value::String(text) = v else {
                    return Err(self.fail(path, "must be a string"));
                };
                self.string(path, s, text)
            }
            Schema::Bytes {
                min_length,
                max_length,
            } => {
                let Value::Bytes(b) = v else {
                    return Err(self.fail(path, "must be a byte array"));
                };
                let len = b.len() as u64;
                if let Some(max) = *max_length
                    && len > max
                {
                    return Err(self.fail(path, format!("must not be larger than {max} bytes")));
                }
                if let Some(min) = *min_length
                    && len < min
                {
                    return Err(self.fail(path, format!("must not be smaller than {min} bytes")));
                }
                Ok(())
            }
            Schema::CidLink => match v {
                Value::Link(_) => Ok(()),
                _ => Err(self.fail(path, "must be a CID")),
            },
            Schema::Blob { accept, max_size } => self.blob(path, accept.as_deref(), *max_size, v),
            Schema::Array {
                items,
                min_length,
                max_length,
            } => {
                let Value::Array(list) = v else {
                    return Err(self.fail(path, "must be an array"));
                };
                let len = list.len() as u64;
                if let Some(max) = *max_length
                    && len > max
                {
                    return Err(self.fail(path, format!("must not have more than {max} elements")));
                }
                if let Some(min) = *min_length
                    && len < min
                {
                    return Err(self.fail(path, format!("must not have fewer than {min} elements")));
                }
                if path.depth() > MAX_DEPTH {
                    return Err(self.fail(path, "is nested too deeply"));
                }
                for (i, item) in list.iter().enumerate() {
                    self.schema(&Path::Index(path, i), items, item)?;
                }
                Ok(())
            }
            Schema::Object(o) => self.object(path, o, v),
            Schema::Ref(key) => {
                let def = self.resolve(path, key)?;
                self.def(path, def, v)
            }
            Schema::Union { refs, closed } => {
                // Like the reference, any string `$type` (even an empty one) makes a variant;
                // an open union then lets types it does not list through.
                let ty = match v {
                    Value::Map(m) => match m.get("$type") {
                        Some(Value::String(t)) => Some(t.as_str()),
                        _ => None,
                    },
                    _ => None,
                };
                let Some(ty) = ty else {
                    return Err(self.fail(
                        path,
                        "must be an object which includes the \"$type\" property",
                    ));
                };
                // `$type` names a main def by its bare NSID; the reference also tolerates an
                // explicit `#main`, and so do we.
                let key = ty.strip_suffix("#main").unwrap_or(ty);
                if !refs.iter().any(|r| **r == *key) {
                    if *closed {
                        let list: Vec<&str> = refs.iter().map(|r| &**r).collect();
                        return Err(
                            self.fail(path, format!("$type must be one of {}", list.join(", ")))
                        );
                    }
                    // Open union: a type this schema does not list is someone else's business.
                    return Ok(());
                }
                let def = self.resolve(path, key)?;
                self.def(path, def, v)
            }
            Schema::Unknown => match v {
                Value::Map(m) if m.get("$type").and_then(Value::as_str) == Some("blob") => {
                    Err(self.fail(path, "must be an object, not a blob"))
                }
                Value::Map(_) => Ok(()),
                _ => Err(self.fail(path, "must be an object")),
            },
        }
    }

    fn string(&self, path: &Path<'_>, s: &crate::schema::StringSchema, text: &str) -> Res {
        if let Some(c) = &s.const_
            && text != c
        {
            return Err(self.fail(path, format!("must be {c}")));
        }
        if let Some(e) = &s.enum_
            && !e.iter().any(|x| x == text)
        {
            return Err(self.fail(path, format!("must be one of ({})", e.join("|"))));
        }
        let bytes = text.len() as u64;
        if let Some(max) = s.max_length
            && bytes > max
        {
            return Err(self.fail(path, format!("must not be longer than {max} characters")));
        }
        if let Some(min) = s.min_length
            && bytes < min
        {
            return Err(self.fail(path, format!("must not be shorter than {min} characters")));
        }
        if let Some(max) = s.max_graphemes
            && formats::more_graphemes_than(text, max)
        {
            return Err(self.fail(path, format!("must not be longer than {max} graphemes")));
        }
        if let Some(min) = s.min_graphemes
            && formats::fewer_graphemes_than(text, min)
        {
            return Err(self.fail(path, format!("must not be shorter than {min} graphemes")));
        }
        if let Some(f) = s.format {
            formats::check(f, text).map_err(|rule| self.fail(path, rule))?;
        }
        Ok(())
    }

    fn blob(
        &self,
        path: &Path<'_>,
        accept: Option<&[String]>,
        max_size: Option<u64>,
        v: &Value,
    ) -> Res {
        let not_blob = || self.fail(path, "should be a blob ref");
        let Value::Map(m) = v else {
            return Err(not_blob());
        };
        let (mime, size) = match m.get("$type") {
            Some(Value::String(t)) if t == "blob" => {
                // The typed form has exactly these four fields.
                if m.len() != 4 || !matches!(m.get("ref"), Some(Value::Link(_))) {
                    return Err(not_blob());
                }
                let (Some(Value::String(mime)), Some(Value::Integer(size))) =
                    (m.get("mimeType"), m.get("size"))
                else {
                    return Err(not_blob());
                };
                let Ok(size) = u64::try_from(*size) else {
                    return Err(not_blob());
                };
                (mime.as_str(), Some(size))
            }
            // The legacy form, `{cid, mimeType}`, still appears in old records; it carries no
            // size, so only the MIME type can be checked.
            None if m.len() == 2 => match (m.get("cid"), m.get("mimeType")) {
                (Some(Value::String(cid)), Some(Value::String(mime)))
                    if aerie_syntax::is_valid_cid_string(cid) =>
                {
                    (mime.as_str(), None)
                }
                _ => return Err(not_blob()),
            },
            _ => return Err(not_blob()),
        };
        if let Some(accept) = accept
            && !formats::mime_accepted(accept, mime)
        {
            return Err(self.fail(
                path,
                format!(
                    "has MIME type {mime}, which is not one of ({})",
                    accept.join("|")
                ),
            ));
        }
        if let (Some(max), Some(size)) = (max_size, size)
            && size > max
        {
            return Err(self.fail(path, format!("must not be larger than {max} bytes")));
        }
        Ok(())
    }
}
