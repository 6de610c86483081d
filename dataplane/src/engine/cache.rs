//! A bounded in-memory cache of decoded items in front of RocksDB, for GetItem: a hit skips
//! the memtable/SST lookup, the decryption and the decoding.
//!
//! It can never serve a value older than the last acknowledged write. Every item write
//! (`WriteMark`, taken before the commit and dropped after it) bumps its lock stripe's version
//! to odd, commits, removes the key from the cache, and bumps the version to even. A reader
//! that missed notes the version before reading storage and fills the cache only if, under
//! the shard's lock, the version is still that even number — so a fill that raced a write is
//! dropped, and a fill that happened before the write's removal is removed by it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tabula_core::Item;

const SHARDS: usize = 64;

struct Shard {
    map: HashMap<Vec<u8>, (Arc<Item>, usize)>,
    bytes: usize,
}

pub(crate) struct ItemCache {
    shards: Vec<Mutex<Shard>>,
    /// Per item-lock stripe: odd while a write to an item of the stripe is in flight.
    versions: Vec<AtomicU64>,
    shard_budget: usize,
}

impl ItemCache {
    /// A cache of about `bytes` of items; `None` when `bytes` is 0 (no cache).
    pub fn new(bytes: usize, stripes: usize) -> Option<Arc<ItemCache>> {
        (bytes > 0).then(|| {
            Arc::new(ItemCache {
                shards: (0..SHARDS)
                    .map(|_| {
                        Mutex::new(Shard {
                            map: HashMap::new(),
                            bytes: 0,
                        })
                    })
                    .collect(),
                versions: (0..stripes).map(|_| AtomicU64::new(0)).collect(),
                shard_budget: (bytes / SHARDS).max(1),
            })
        })
    }

    fn shard(&self, key: &[u8]) -> &Mutex<Shard> {
        &self.shards[tabula_core::keyenc::fnv1a32(key).rotate_left(7) as usize % SHARDS]
    }

    fn version_of(&self, key: &[u8]) -> &AtomicU64 {
        &self.versions[super::stripe(key) % self.versions.len()]
    }

    pub fn get(&self, key: &[u8]) -> Option<Arc<Item>> {
        let shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        shard.map.get(key).map(|(item, _)| item.clone())
    }

    /// The version to pass to [`ItemCache::fill`], read before reading storage.
    pub fn version(&self, key: &[u8]) -> u64 {
        self.version_of(key).load(Ordering::SeqCst)
    }

    /// Caches what storage returned, unless a write to the item's stripe started since
    /// `seen` (or was in flight then).
    pub fn fill(&self, key: &[u8], item: Arc<Item>, seen: u64) {
        let size = tabula_core::value::item_size(&item) + key.len() + 64;
        if size > self.shard_budget {
            return;
        }
        let mut shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        if seen % 2 == 1 || self.version_of(key).load(Ordering::SeqCst) != seen {
            return;
        }
        // Make room: drop arbitrary entries (the map's order is effectively random).
        while shard.bytes + size > self.shard_budget {
            let Some(victim) = shard.map.keys().next().cloned() else {
                break;
            };
            if let Some((_, s)) = shard.map.remove(&victim) {
                shard.bytes -= s;
            }
        }
        if let Some((_, old)) = shard.map.insert(key.to_vec(), (item, size)) {
            shard.bytes -= old;
        }
        shard.bytes += size;
    }

    /// Marks writes of `keys` in flight until the returned mark is dropped (after the commit,
    /// whatever its outcome). The caller holds the keys' item locks, so no other write of
    /// their stripes is in flight: each stripe's version is bumped once, to odd.
    pub fn begin_writes<'k>(
        self: &Arc<Self>,
        keys: impl IntoIterator<Item = &'k [u8]>,
    ) -> WriteMark {
        let keys: Vec<Vec<u8>> = keys.into_iter().map(<[u8]>::to_vec).collect();
        let mut stripes: Vec<usize> = keys
            .iter()
            .map(|k| super::stripe(k) % self.versions.len())
            .collect();
        stripes.sort_unstable();
        stripes.dedup();
        for s in &stripes {
            self.versions[*s].fetch_add(1, Ordering::SeqCst);
        }
        WriteMark {
            cache: self.clone(),
            keys,
            stripes,
        }
    }

    /// Forgets everything (a table was deleted).
    pub fn clear(&self) {
        for s in &self.shards {
            let mut s = s.lock().unwrap_or_else(|p| p.into_inner());
            s.map.clear();
            s.bytes = 0;
        }
    }
}

pub(crate) struct WriteMark {
    cache: Arc<ItemCache>,
    keys: Vec<Vec<u8>>,
    stripes: Vec<usize>,
}

impl Drop for WriteMark {
    fn drop(&mut self) {
        for key in &self.keys {
            let mut shard = self
                .cache
                .shard(key)
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some((_, s)) = shard.map.remove(key) {
                shard.bytes -= s;
            }
        }
        for s in &self.stripes {
            self.cache.versions[*s].fetch_add(1, Ordering::SeqCst);
        }
    }
}
