//! Answers to the reads that every delivery request makes (who a token belongs to, what a
//! prompt's labels point at), kept in memory so that fetching a prompt by label touches no
//! database at all.
//!
//! An answer is good while two things hold:
//! - no transaction of this process that changed its table has committed since the read began
//!   (each table has a generation, raised after such a commit; a read stamps its answer with the
//!   generation it saw *before* querying, so an answer read across a commit is never kept), and
//! - it is younger than [`CROSS_PROCESS_TTL`], which bounds how long a change made by another
//!   process on the same database (the CLI beside a running server, a second server on
//!   PostgreSQL) can go unseen.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::prompts::{Prompt, PromptLabel};
use crate::users::TokenAuth;

/// How long another process's change to tokens, roles or prompt labels can go unseen here.
pub const CROSS_PROCESS_TTL: Duration = Duration::from_millis(500);

/// Answers kept per table; past it the table starts again empty (they are cheap to read back).
const MAX_ENTRIES: usize = 4096;

/// Tables whose answers are kept; a write transaction marks the ones it changes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Touched {
    /// API tokens, users and role grants: what a token resolves to.
    pub(crate) auth: bool,
    /// Prompts and their labels.
    pub(crate) prompts: bool,
}

#[derive(Default)]
pub(crate) struct Hot {
    pub(crate) tokens: Kept<String, TokenAuth>,
    pub(crate) prompts: Kept<(String, String), (Prompt, Vec<PromptLabel>)>,
}

impl Hot {
    /// Called after a transaction committed.
    pub(crate) fn committed(&self, touched: Touched) {
        if touched.auth {
            self.tokens.invalidate();
        }
        if touched.prompts {
            self.prompts.invalidate();
        }
    }
}

/// One table's answers.
pub(crate) struct Kept<K, V> {
    generation: AtomicU64,
    entries: Mutex<HashMap<K, Entry<V>>>,
}

struct Entry<V> {
    value: V,
    generation: u64,
    read_at: Instant,
}

impl<K, V> Default for Kept<K, V> {
    fn default() -> Self {
        Kept { generation: AtomicU64::new(0), entries: Mutex::new(HashMap::new()) }
    }
}

impl<K: Eq + Hash, V: Clone> Kept<K, V> {
    /// The generation to stamp a read with; take it before querying.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A kept answer that is still good.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let now = self.generation();
        let entries = self.entries.lock().ok()?;
        let e = entries.get(key)?;
        (e.generation == now && e.read_at.elapsed() < CROSS_PROCESS_TTL).then(|| e.value.clone())
    }

    /// Keeps an answer read under `generation`, unless a commit has happened since.
    pub(crate) fn put(&self, key: K, value: V, generation: u64) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if self.generation() != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, Entry { value, generation, read_at: Instant::now() });
    }

    fn invalidate(&self) {
        // Under the lock, so that a `put` cannot check the old generation and then insert after
        // the entries were cleared.
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_read_across_a_commit_is_not_kept() {
        let kept: Kept<String, i64> = Kept::default();
        let before = kept.generation();
        kept.invalidate();
        kept.put("a".into(), 1, before);
        assert_eq!(kept.get("a"), None);
        kept.put("a".into(), 2, kept.generation());
        assert_eq!(kept.get("a"), Some(2));
        kept.invalidate();
        assert_eq!(kept.get("a"), None);
    }

    #[test]
    fn answers_expire() {
        let kept: Kept<String, i64> = Kept::default();
        kept.put("a".into(), 1, kept.generation());
        assert_eq!(kept.get("a"), Some(1));
        std::thread::sleep(CROSS_PROCESS_TTL + Duration::from_millis(20));
        assert_eq!(kept.get("a"), None);
    }
}
