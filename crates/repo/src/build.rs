//! A whole repository written as one CAR from its records, using every core.
//!
//! [`RepoCarWriter::write`] hashes the records, builds the MST, signs the commit and writes
//! the CAR in one go: the fast path for bulk exports, fixtures and benchmarks, where the
//! records are at hand and no tree is kept. On several threads the records are hashed in
//! runs; the tree is cut below a layer high enough to leave a few independent subtrees per
//! thread (the keys between two keys of that layer or above form one subtree, whatever the
//! rest of the tree), those subtrees are built in parallel, and the few nodes above them are built
//! last. Each record is written into its place in the file by the thread that hashes it. The blocks are exactly
//! those of [`Mst::build_root`](crate::mst::Mst::build_root).
//!
//! Block order in the file: the commit, the records in key order, then the MST nodes, each
//! after its children. Readers must accept any order; this one lets the writer place
//! records before the tree above them is known.

use std::borrow::Borrow;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use aerie_crypto::SigningKey;
use aerie_data::Cid;
use aerie_syntax::{Did, Tid};

use crate::car::{header_len, push_header, push_section, put_section, section_len};
use crate::commit::{Commit, UnsignedCommit};
use crate::mst::{Builder, Key, MstError, layer_of};

/// Writes repository CARs, keeping its scratch buffers between calls (a server exporting
/// repeatedly does not fault their pages in afresh each time).
#[derive(Debug, Default)]
pub struct RepoCarWriter {
    cids: Vec<Cid>,
    layers: Vec<u8>,
    /// Node sections of each subtree job, then of the top.
    nodes: Vec<Vec<u8>>,
    /// How far the top's node sections had reached after each subtree was linked in.
    top_marks: Vec<usize>,
}

/// What [`RepoCarWriter::write`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// The signed commit (its `data` is the MST root).
    pub commit: Commit,
    /// The commit's CID, the CAR's root.
    pub commit_cid: Cid,
}

/// Subtree jobs wanted per thread: enough that uneven subtrees still even out.
const JOBS_PER_THREAD: usize = 4;

/// Below this many records the tree is built on one thread.
const PARALLEL_MIN_RECORDS: usize = 4096;

impl RepoCarWriter {
    /// A writer with empty buffers.
    pub fn new() -> RepoCarWriter {
        RepoCarWriter::default()
    }

    /// Write the repository of `records` (record paths strictly ascending, each with its
    /// DRISL bytes) at revision `rev`, signed with `key`, into `out` (cleared first). `threads`
    /// as in [`crate::par::workers`].
    pub fn write<K, B>(
        &mut self,
        did: &Did,
        rev: Tid,
        key: &SigningKey,
        records: &[(K, B)],
        out: &mut Vec<u8>,
        threads: Option<NonZeroUsize>,
    ) -> Result<Written, MstError>
    where
        K: Borrow<Key> + Sync,
        B: AsRef<[u8]> + Sync,
    {
        let record_bytes: usize = records
            .iter()
            .map(|(_, b)| section_len(b.as_ref().len()))
            .sum();
        let workers = crate::par::workers(threads, record_bytes);

        // The header and commit have a known size before the root is known: leave room.
        let mut unsigned = UnsignedCommit {
            did: did.clone(),
            data: Cid::for_cbor(&[]),
            rev,
            prev: None,
        };
        let prefix = header_len(&[unsigned.data]) + section_len(unsigned.signed_len());
        // Every byte up to the end of the records is written below, so a reused buffer keeps
        // its old bytes until then rather than being zeroed first.
        let sized = prefix + record_bytes;
        if out.len() >= sized {
            out.truncate(sized);
        } else {
            // Nodes take about 90 bytes per record.
            out.reserve(sized + records.len() * 96 - out.len());
            out.resize(sized, 0);
        }
        self.hash_records(records, &mut out[prefix..], workers)?;
        let root = self.build_tree(records, workers)?;
        // Each subtree's nodes, then the top nodes completed when the key after it came in:
        // the order a one-thread build emits them in, so the file does not depend on the
        // thread count.
        let (gaps, top) = self.nodes.split_at(self.nodes.len() - 1);
        let mut from = 0;
        for (part, &mark) in gaps.iter().zip(&self.top_marks) {
            out.extend_from_slice(part);
            out.extend_from_slice(&top[0][from..mark]);
            from = mark;
        }
        out.extend_from_slice(&top[0][from..]);
        unsigned.data = root;
        let commit = unsigned.sign(key);
        let (commit_cid, commit_bytes) = commit.to_block();
        let mut head = Vec::with_capacity(prefix);
        push_header(&mut head, &[commit_cid]);
        push_section(&mut head, &commit_cid, &commit_bytes);
        debug_assert_eq!(head.len(), prefix);
        out[..prefix].copy_from_slice(&head);
        Ok(Written { commit, commit_cid })
    }

    /// Each record's CID and each key's layer, in runs over `workers` threads; also checks
    /// that keys strictly ascend.
    fn hash_records<K, B>(
        &mut self,
        records: &[(K, B)],
        mut sections: &mut [u8],
        workers: usize,
    ) -> Result<(), MstError>
    where
        K: Borrow<Key> + Sync,
        B: AsRef<[u8]> + Sync,
    {
        let n = records.len();
        self.cids.clear();
        self.cids
            .resize(n, Cid::from_digest(aerie_data::Codec::DagCbor, [0; 32]));
        self.layers.clear();
        self.layers.resize(n, 0);
        let per_run = n.div_ceil(workers.max(1)).max(1);
        let mut runs = Vec::with_capacity(workers);
        for (i, (c, l)) in self
            .cids
            .chunks_mut(per_run)
            .zip(self.layers.chunks_mut(per_run))
            .enumerate()
        {
            let first = i * per_run;
            let len: usize = records[first..first + c.len()]
                .iter()
                .map(|(_, b)| section_len(b.as_ref().len()))
                .sum();
            let (mine, rest) = std::mem::take(&mut sections).split_at_mut(len);
            sections = rest;
            runs.push((first, c, l, mine));
        }
        let results = crate::par::run_all(runs, |(first, cids, layers, mut dst)| {
            for (i, (cid, layer)) in cids.iter_mut().zip(layers.iter_mut()).enumerate() {
                let (key, bytes) = &records[first + i];
                let key = key.borrow();
                if let Some((prev, _)) = (first + i).checked_sub(1).map(|j| &records[j])
                    && prev.borrow().as_bytes() >= key.as_bytes()
                {
                    return Err(MstError::Unsorted {
                        key: key.as_str().to_owned(),
                    });
                }
                *cid = Cid::for_cbor(bytes.as_ref());
                let used = put_section(dst, cid, bytes.as_ref());
                dst = &mut dst[used..];
                *layer = layer_of(key.as_bytes());
            }
            Ok(())
        });
        results.into_iter().collect()
    }

    /// Build the tree into `self.nodes`; returns the root.
    fn build_tree<K, B>(&mut self, records: &[(K, B)], workers: usize) -> Result<Cid, MstError>
    where
        K: Borrow<Key> + Sync,
        B: AsRef<[u8]> + Sync,
    {
        let (cids, layers) = (&self.cids, &self.layers);
        let split = split_layer(layers, workers);
        let Some(split) = split.filter(|_| workers > 1 && records.len() >= PARALLEL_MIN_RECORDS)
        else {
            self.top_marks.clear();
            self.nodes.resize_with(1, Vec::new);
            let nodes = &mut self.nodes[0];
            nodes.clear();
            let mut b = Builder::presorted();
            let sink = &mut |c: &Cid, bytes: &[u8]| push_section(nodes, c, bytes);
            for (i, (key, _)) in records.iter().enumerate() {
                b.push(key.borrow(), cids[i], layers[i], sink)?;
            }
            return b.finish(0, sink);
        };
        // Keys at the split layer or above, in order; the gaps around them are the jobs.
        let high: Vec<usize> = (0..layers.len()).filter(|&i| layers[i] >= split).collect();
        let gaps = high.len() + 1;
        self.nodes.resize_with(gaps + 1, Vec::new);
        let (gap_nodes, top_nodes) = self.nodes.split_at_mut(gaps);
        let gap_nodes: Vec<Mutex<&mut Vec<u8>>> = gap_nodes.iter_mut().map(Mutex::new).collect();
        type GapRoot = Result<Option<Cid>, MstError>;
        let gap_roots: Vec<Mutex<GapRoot>> = (0..gaps).map(|_| Mutex::new(Ok(None))).collect();
        let next = AtomicUsize::new(0);
        let below = usize::from(split) - 1;
        crate::par::run_all(vec![(); workers], |()| {
            loop {
                let g = next.fetch_add(1, Ordering::Relaxed);
                if g >= gaps {
                    break;
                }
                let lo = if g == 0 { 0 } else { high[g - 1] + 1 };
                let hi = high.get(g).copied().unwrap_or(records.len());
                let mut nodes = gap_nodes[g].lock().unwrap_or_else(|p| p.into_inner());
                nodes.clear();
                let sink = &mut |c: &Cid, bytes: &[u8]| push_section(&mut nodes, c, bytes);
                let mut b = Builder::presorted();
                let built = (lo..hi)
                    .try_for_each(|i| b.push(records[i].0.borrow(), cids[i], layers[i], sink))
                    .map(|()| b.finish_subtree(below, sink));
                *gap_roots[g].lock().unwrap_or_else(|p| p.into_inner()) = built;
            }
        });
        let top_nodes = &mut top_nodes[0];
        top_nodes.clear();
        self.top_marks.clear();
        let mut b = Builder::presorted();
        // Errors surface in key order: a gap's before the key after it.
        for (g, root) in gap_roots.into_iter().enumerate() {
            let sink = &mut |c: &Cid, bytes: &[u8]| push_section(top_nodes, c, bytes);
            let root = root.into_inner().unwrap_or_else(|p| p.into_inner())?;
            if let Some(sub) = root {
                b.attach(usize::from(split), sub, sink);
            }
            if let Some(&i) = high.get(g) {
                b.push(records[i].0.borrow(), cids[i], layers[i], sink)?;
            }
            self.top_marks.push(top_nodes.len());
        }
        b.finish(0, &mut |c: &Cid, bytes: &[u8]| {
            push_section(top_nodes, c, bytes)
        })
    }
}

/// The highest layer with at least [`JOBS_PER_THREAD`] keys per thread at or above it
/// (their gaps become the parallel jobs); `None` when even layer 1 has too few.
fn split_layer(layers: &[u8], workers: usize) -> Option<u8> {
    let mut at_least = [0usize; 256];
    for &l in layers {
        at_least[usize::from(l)] += 1;
    }
    for l in (0..255).rev() {
        at_least[l] += at_least[l + 1];
    }
    let want = workers * JOBS_PER_THREAD;
    (1..=255u8)
        .rev()
        .find(|&l| at_least[usize::from(l)] >= want)
}
