//! The audit chain's hashing. Each entry's hash covers the previous entry's hash and the entry's
//! own fields as canonical JSON (object keys sorted, no whitespace), so that changing, removing
//! or reordering any stored entry breaks every hash after it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The hash that the first entry links to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub workspace_id: Option<String>,
    /// Who acted: `user:<name>`, `token:<id>` or `system`.
    pub actor: String,
    /// What was done, e.g. `dataset.create`, `user.login`, `grant.add`.
    pub action: String,
    pub object_kind: String,
    pub object_id: String,
    /// A summary of the change: `{"before": …, "after": …}` or other small facts.
    pub summary: Value,
    pub at_ms: i64,
    pub prev_hash: String,
    pub hash: String,
}

/// The fields of an entry that its hash covers, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditFields<'a> {
    pub seq: i64,
    pub workspace_id: Option<&'a str>,
    pub actor: &'a str,
    pub action: &'a str,
    pub object_kind: &'a str,
    pub object_id: &'a str,
    pub summary: &'a Value,
    pub at_ms: i64,
}

/// Canonical JSON of a value: serde_json's default map keeps keys sorted, and `to_string` writes
/// no whitespace, so equal values always give equal bytes.
pub fn canonical_json(value: &Value) -> String {
    // Re-parse through `Value` so that maps built elsewhere come out sorted too.
    let sorted: Value = serde_json::from_value(value.clone()).unwrap_or(Value::Null);
    sorted.to_string()
}

/// The hash of an entry given the previous entry's hash.
pub fn entry_hash(prev_hash: &str, fields: &AuditFields<'_>) -> String {
    let body = json!({
        "seq": fields.seq,
        "workspace_id": fields.workspace_id,
        "actor": fields.actor,
        "action": fields.action,
        "object": {"kind": fields.object_kind, "id": fields.object_id},
        "summary": fields.summary,
        "at_ms": fields.at_ms,
    });
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical_json(&body).as_bytes());
    hex::encode(h.finalize())
}

impl AuditEntry {
    pub fn fields(&self) -> AuditFields<'_> {
        AuditFields {
            seq: self.seq,
            workspace_id: self.workspace_id.as_deref(),
            actor: &self.actor,
            action: &self.action,
            object_kind: &self.object_kind,
            object_id: &self.object_id,
            summary: &self.summary,
            at_ms: self.at_ms,
        }
    }
}

/// Why a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("audit entry {seq}: expected sequence number {expected} (an entry is missing or out of order)")]
    Gap { seq: i64, expected: i64 },
    #[error("audit entry {seq}: prev_hash does not match the hash of entry {prev}")]
    PrevMismatch { seq: i64, prev: i64 },
    #[error("audit entry {seq}: stored hash does not match its contents (the entry was changed)")]
    HashMismatch { seq: i64 },
    #[error(
        "audit log ends at entry {last} but its head records entry {head}: entries were removed from the end"
    )]
    Truncated { last: i64, head: i64 },
}

/// Checks entries in sequence order, continuing from `prev` (the last verified `(seq, hash)`, or
/// `None` at the start of the chain).
pub fn verify_entries<'a>(
    prev: Option<(i64, String)>,
    entries: impl IntoIterator<Item = &'a AuditEntry>,
) -> Result<Option<(i64, String)>, ChainBreak> {
    let mut prev = prev;
    for e in entries {
        let (expected_seq, expected_prev) = match &prev {
            Some((seq, hash)) => (seq + 1, hash.as_str()),
            None => (1, GENESIS_HASH),
        };
        if e.seq != expected_seq {
            return Err(ChainBreak::Gap { seq: e.seq, expected: expected_seq });
        }
        if e.prev_hash != expected_prev {
            return Err(ChainBreak::PrevMismatch { seq: e.seq, prev: expected_seq - 1 });
        }
        if entry_hash(&e.prev_hash, &e.fields()) != e.hash {
            return Err(ChainBreak::HashMismatch { seq: e.seq });
        }
        prev = Some((e.seq, e.hash.clone()));
    }
    Ok(prev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let summary = json!({"after": {"name": format!("d{seq}")}});
                let mut e = AuditEntry {
                    seq,
                    workspace_id: Some("w".into()),
                    actor: "user:admin".into(),
                    action: "dataset.create".into(),
                    object_kind: "dataset".into(),
                    object_id: format!("id{seq}"),
                    summary,
                    at_ms: 1000 + seq,
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = entry_hash(&prev, &e.fields());
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify_entries(None, &c).unwrap().unwrap().0, 5);
    }

    #[test]
    fn edited_entry_is_named() {
        let mut c = chain(5);
        c[2].actor = "user:mallory".into();
        assert_eq!(verify_entries(None, &c), Err(ChainBreak::HashMismatch { seq: 3 }));
    }

    #[test]
    fn removed_entry_is_named() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify_entries(None, &c), Err(ChainBreak::Gap { seq: 3, expected: 2 }));
    }

    #[test]
    fn rehashed_entry_breaks_the_next_link() {
        let mut c = chain(4);
        c[1].summary = json!({"after": "forged"});
        c[1].hash = entry_hash(&c[1].prev_hash, &c[1].fields());
        assert_eq!(verify_entries(None, &c), Err(ChainBreak::PrevMismatch { seq: 3, prev: 2 }));
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let v: Value = serde_json::from_str(r#"{"b":1,"a":{"d":2,"c":3}}"#).unwrap();
        assert_eq!(canonical_json(&v), r#"{"a":{"c":3,"d":2},"b":1}"#);
    }
}
