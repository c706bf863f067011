//! Portable SQL types: one Rust type, the native column type on each backend.
//!
//! * [`SqlUuid`]: `uuid` on PostgreSQL, 36-character `TEXT` on SQLite.
//! * [`SqlJson`]: `json` on PostgreSQL, `TEXT CHECK (json_valid(...))` on SQLite. Both keep
//!   the text as written, so reads hand it out without conversion.
//!
//! JSON travels as text ([`JsonText`]) in both directions: the cache serves data far
//! more often than it inspects it, so we never build a `serde_json::Value` on the read path.

use std::io::Write;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{HasSqlType, SqlType, Text};
use diesel::sqlite::Sqlite;
use serde_json::value::RawValue;

use super::MultiBackend;

/// SQL type of UUID columns.
#[derive(Debug, Clone, Copy, Default, SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(sqlite_type(name = "Text"))]
pub struct SqlUuid;

/// SQL type of JSON document columns.
#[derive(Debug, Clone, Copy, Default, SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(oid = 114, array_oid = 199))]
#[diesel(sqlite_type(name = "Text"))]
pub struct SqlJson;

/// A UUID as stored in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, AsExpression, FromSqlRow)]
#[diesel(sql_type = SqlUuid)]
pub struct DbUuid(pub uuid::Uuid);

impl From<uuid::Uuid> for DbUuid {
    fn from(u: uuid::Uuid) -> Self {
        DbUuid(u)
    }
}

impl std::fmt::Display for DbUuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A JSON document as text, already known to be valid JSON.
#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = SqlJson)]
pub struct JsonText(String);

impl JsonText {
    /// Serializes a value. Serializing a `serde_json::Value` cannot fail.
    pub fn from_value(value: &serde_json::Value) -> Self {
        JsonText(value.to_string())
    }

    /// Takes raw JSON text that serde already validated.
    pub fn from_raw(raw: &RawValue) -> Self {
        JsonText(raw.get().to_owned())
    }

    /// Wraps text that serde_json just produced (so it is valid JSON).
    pub(crate) fn from_trusted(text: String) -> Self {
        JsonText(text)
    }

    /// Takes ownership of raw JSON text without copying it.
    pub fn from_raw_box(raw: Box<RawValue>) -> Self {
        let text: Box<str> = raw.into();
        JsonText(text.into_string())
    }

    /// Validates `bytes` as one JSON document and keeps them without copying.
    pub fn from_json_bytes(bytes: Vec<u8>) -> Result<Self, serde_json::Error> {
        serde_json::from_slice::<&RawValue>(&bytes)?;
        // Valid JSON is valid UTF-8.
        String::from_utf8(bytes)
            .map(JsonText)
            .map_err(|e| serde::de::Error::custom(e.to_string()))
    }

    /// Validates `text` as one JSON document.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        let raw: Box<RawValue> = serde_json::from_str(text)?;
        Ok(JsonText(raw.get().to_owned()))
    }

    /// SHA-256 of the text, lowercase hex: what `cache_items.data_sha256` stores.
    pub fn sha256_hex(&self) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The JSON text, owned.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Whether the whole document is `null`.
    pub fn is_null(&self) -> bool {
        self.0.trim() == "null"
    }

    /// Parses the document into a value (for callers that want to inspect it).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }

    /// Whether arrays and objects nest deeper than `limit` levels (`[]` is 1). One pass
    /// over the text, without recursion or allocation.
    pub fn depth_exceeds(&self, limit: usize) -> bool {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        for b in self.0.bytes() {
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > limit {
                        return true;
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        false
    }

    /// Size of the stored text in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty (never true for valid JSON).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<serde_json::Value> for JsonText {
    fn from(v: serde_json::Value) -> Self {
        JsonText::from_value(&v)
    }
}

impl From<&serde_json::Value> for JsonText {
    fn from(v: &serde_json::Value) -> Self {
        JsonText::from_value(v)
    }
}

// --- UUID -----------------------------------------------------------------

impl ToSql<SqlUuid, Pg> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.0.as_bytes())?;
        Ok(IsNull::No)
    }
}

impl FromSql<SqlUuid, Pg> for DbUuid {
    fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(DbUuid(uuid::Uuid::from_slice(bytes.as_bytes())?))
    }
}

impl ToSql<SqlUuid, Sqlite> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.hyphenated().to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<SqlUuid, Sqlite> for DbUuid {
    fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(bytes)?;
        Ok(DbUuid(uuid::Uuid::parse_str(&text)?))
    }
}

impl HasSqlType<SqlUuid> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<SqlUuid>(lookup)
    }
}

impl FromSql<SqlUuid, MultiBackend> for DbUuid {
    fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<DbUuid, SqlUuid>()
    }
}

impl ToSql<SqlUuid, MultiBackend> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((SqlUuid, self));
        Ok(IsNull::No)
    }
}

// --- JSON -----------------------------------------------------------------

// PostgreSQL's binary format of `json` is the text itself.
impl ToSql<SqlJson, Pg> for JsonText {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.0.as_bytes())?;
        Ok(IsNull::No)
    }
}

impl FromSql<SqlJson, Pg> for JsonText {
    fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(JsonText(std::str::from_utf8(bytes.as_bytes())?.to_owned()))
    }
}

impl ToSql<SqlJson, Sqlite> for JsonText {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.as_str());
        Ok(IsNull::No)
    }
}

impl FromSql<SqlJson, Sqlite> for JsonText {
    fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(JsonText(<String as FromSql<Text, Sqlite>>::from_sql(
            bytes,
        )?))
    }
}

impl HasSqlType<SqlJson> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<SqlJson>(lookup)
    }
}

impl FromSql<SqlJson, MultiBackend> for JsonText {
    fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<JsonText, SqlJson>()
    }
}

impl ToSql<SqlJson, MultiBackend> for JsonText {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((SqlJson, self));
        Ok(IsNull::No)
    }
}

// --- Enums stored as text -------------------------------------------------

/// Declares an enum stored as a `TEXT` column: `as_str`, `parse`, `Display`, and one
/// `FromSql`/`ToSql` pair for `Text` on PostgreSQL, SQLite and `MultiBackend` (like
/// [`DbUuid`]), so models hold the enum and no caller compares strings. A stored
/// value that names no variant is a deserialization error.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::AsExpression, diesel::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const VARIANTS: &'static [$name] = &[$($name::$variant),+];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The variant with this stored name.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            fn from_stored(s: String) -> diesel::deserialize::Result<Self> {
                Self::parse(&s).ok_or_else(|| {
                    format!("unknown {} \"{s}\" in the database", stringify!($name)).into()
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn from_sql(
                bytes: <diesel::pg::Pg as diesel::backend::Backend>::RawValue<'_>,
            ) -> diesel::deserialize::Result<Self> {
                Self::from_stored(<String as diesel::deserialize::FromSql<
                    diesel::sql_types::Text,
                    diesel::pg::Pg,
                >>::from_sql(bytes)?)
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::sqlite::Sqlite> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::sqlite::Sqlite>,
            ) -> diesel::serialize::Result {
                out.set_value(self.as_str());
                Ok(diesel::serialize::IsNull::No)
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::sqlite::Sqlite>
            for $name
        {
            fn from_sql(
                bytes: <diesel::sqlite::Sqlite as diesel::backend::Backend>::RawValue<'_>,
            ) -> diesel::deserialize::Result<Self> {
                Self::from_stored(<String as diesel::deserialize::FromSql<
                    diesel::sql_types::Text,
                    diesel::sqlite::Sqlite,
                >>::from_sql(bytes)?)
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Text, $crate::db::MultiBackend>
            for $name
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, $crate::db::MultiBackend>,
            ) -> diesel::serialize::Result {
                out.set_value((diesel::sql_types::Text, self));
                Ok(diesel::serialize::IsNull::No)
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Text, $crate::db::MultiBackend>
            for $name
        {
            fn from_sql(
                bytes: <$crate::db::MultiBackend as diesel::backend::Backend>::RawValue<'_>,
            ) -> diesel::deserialize::Result<Self> {
                bytes.from_sql::<$name, diesel::sql_types::Text>()
            }
        }
    };
}
pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    use crate::db::models::{JobStatus, Origin, ProjectType, PublicAccess, Role};

    fn round_trips<T: Copy + PartialEq + std::fmt::Debug>(
        all: &[T],
        as_str: fn(T) -> &'static str,
        parse: fn(&str) -> Option<T>,
    ) {
        for v in all {
            assert_eq!(parse(as_str(*v)), Some(*v));
        }
        assert_eq!(parse("no such value"), None);
    }

    #[test]
    fn every_text_enum_round_trips_through_its_stored_name() {
        round_trips(JobStatus::VARIANTS, JobStatus::as_str, JobStatus::parse);
        round_trips(Origin::VARIANTS, Origin::as_str, Origin::parse);
        round_trips(
            ProjectType::VARIANTS,
            ProjectType::as_str,
            ProjectType::parse,
        );
        round_trips(
            PublicAccess::VARIANTS,
            PublicAccess::as_str,
            PublicAccess::parse,
        );
        round_trips(Role::VARIANTS, Role::as_str, Role::parse);
        assert_eq!(ProjectType::Category.to_string(), "CATEGORY");
    }

    #[test]
    fn nesting_depth_counts_arrays_and_objects_outside_strings() {
        let nested = |n: usize| {
            super::JsonText::parse(&format!("{}{}", "[".repeat(n), "]".repeat(n))).unwrap()
        };
        assert!(!nested(3).depth_exceeds(3));
        assert!(nested(4).depth_exceeds(3));
        let tricky = super::JsonText::parse(r#"{"a": "[[[[\"{{{{", "b": [{"c": []}]}"#).unwrap();
        assert!(!tricky.depth_exceeds(4), "brackets in strings do not count");
        assert!(tricky.depth_exceeds(3));
        // Everything the cache accepts parses into a Value, so no reader gets `null`.
        let limit = crate::cache::MAX_JSON_DEPTH;
        let deepest = nested(limit);
        assert!(!deepest.depth_exceeds(limit));
        assert!(serde_json::from_str::<serde_json::Value>(deepest.as_str()).is_ok());
    }
}
