//! The in-memory tree: nodes, loading, bulk build, point edits and hashing.

use std::borrow::Borrow;
use std::ops::Deref;

use aerie_data::Cid;
use aerie_data::drisl::Writer;

use super::codec::{EMPTY_NODE, decode_node, encode_node};
use super::key::Key;
use super::{BlockSource, MAX_LAYER, MAX_NODE_ENTRIES, MstError};

/// A pointer to a subtree.
#[derive(Debug, Clone, Default)]
pub(crate) enum Link {
    /// No subtree.
    #[default]
    Empty,
    /// A subtree known only by CID: not loaded yet, or absent from a partial tree.
    Stub(Cid),
    /// A subtree held in memory.
    Loaded(Box<Node>),
}

impl Link {
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Link::Empty)
    }

    /// The subtree's CID, if it has one (a dirty loaded node has none).
    pub(crate) fn cid(&self) -> Option<&Cid> {
        match self {
            Link::Empty => None,
            Link::Stub(c) => Some(c),
            Link::Loaded(n) => n.cid.as_ref(),
        }
    }
}

/// A node in working form: keys expanded, children as [`Link`]s.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Layer of every key in this node.
    pub(crate) layer: u8,
    /// CID while the node is unchanged since it was loaded or hashed; `None` = dirty.
    /// Invariant: a dirty node's ancestors are all dirty.
    pub(crate) cid: Option<Cid>,
    pub(crate) left: Link,
    pub(crate) entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) key: Key,
    pub(crate) value: Cid,
    pub(crate) right: Link,
}

impl Node {
    fn empty(layer: u8) -> Node {
        Node {
            layer,
            cid: None,
            left: Link::Empty,
            entries: Vec::new(),
        }
    }

    /// Gap `i`: the subtree before entry `i` (`i == entries.len()` is the trailing gap).
    pub(crate) fn link_at(&self, i: usize) -> &Link {
        if i == 0 {
            &self.left
        } else {
            &self.entries[i - 1].right
        }
    }

    fn link_at_mut(&mut self, i: usize) -> &mut Link {
        if i == 0 {
            &mut self.left
        } else {
            &mut self.entries[i - 1].right
        }
    }

    /// Position of `key`: `Ok(i)` if entry `i` has it, `Err(i)` if it belongs in gap `i`.
    pub(crate) fn search(&self, key: &[u8]) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| e.key.as_bytes().cmp(key))
    }

    fn is_hollow(&self) -> bool {
        self.entries.is_empty() && self.left.is_empty()
    }

    /// Child layer; a layer-0 node never has children (the decoder refuses them).
    pub(crate) fn child_layer(&self) -> u8 {
        self.layer.saturating_sub(1)
    }
}

/// Fetch and decode a node, checking its layer rules. `expected` is the layer implied by the
/// parent (`None` for a root).
pub(crate) fn load_node<S: BlockSource + ?Sized>(
    src: &S,
    cid: &Cid,
    expected: Option<u8>,
) -> Result<Node, MstError> {
    let bytes = src
        .block(cid)
        .map_err(|source| MstError::Source { cid: *cid, source })?
        .ok_or(MstError::MissingBlock(*cid))?;
    node_from_bytes(&bytes, *cid, expected)
}

pub(crate) fn node_from_bytes(
    bytes: &[u8],
    cid: Cid,
    expected: Option<u8>,
) -> Result<Node, MstError> {
    let (left, entries) = decode_node(bytes, Some(cid), |key, value, right| Entry {
        key,
        value,
        right: right.map_or(Link::Empty, Link::Stub),
    })?;
    let bad = |key: Option<&Key>, reason| MstError::NotCanonical {
        cid: Some(cid),
        key: key.map(|k| k.as_str().to_owned()),
        reason,
    };
    let layer = match (entries.first(), expected) {
        (Some(e), _) => e.key.layer(),
        (None, Some(l)) => l,
        (None, None) => 0,
    };
    if layer > MAX_LAYER {
        return Err(MstError::TooDeep(layer));
    }
    for (i, e) in entries.iter().enumerate() {
        let l = if i == 0 { layer } else { e.key.layer() };
        if expected.is_some_and(|x| x != l) || l != layer {
            return Err(bad(Some(&e.key), "key layer differs from the node's layer"));
        }
    }
    let has_children = left.is_some() || entries.iter().any(|e| !e.right.is_empty());
    if layer == 0 && has_children {
        return Err(bad(None, "layer-0 node has subtrees"));
    }
    if entries.is_empty() {
        match (expected, left.is_some()) {
            (Some(_), false) => return Err(bad(None, "empty node below the root")),
            (None, true) => return Err(bad(None, "root is an empty node that only points down")),
            _ => {}
        }
    }
    Ok(Node {
        layer,
        cid: Some(cid),
        left: left.map_or(Link::Empty, Link::Stub),
        entries,
    })
}

/// A node borrowed from the tree or decoded on the fly (read-only walks never cache loads).
pub(crate) enum NodeRef<'a> {
    Mem(&'a Node),
    Owned(Box<Node>),
}

impl Deref for NodeRef<'_> {
    type Target = Node;
    fn deref(&self) -> &Node {
        match self {
            NodeRef::Mem(n) => n,
            NodeRef::Owned(n) => n,
        }
    }
}

/// Open the node behind `link` for reading.
pub(crate) fn open<'a, S: BlockSource + ?Sized>(
    link: &'a Link,
    src: &S,
    layer: Option<u8>,
) -> Result<Option<NodeRef<'a>>, MstError> {
    Ok(match link {
        Link::Empty => None,
        Link::Stub(c) => Some(NodeRef::Owned(Box::new(load_node(src, c, layer)?))),
        Link::Loaded(n) => Some(NodeRef::Mem(n)),
    })
}

/// Open gap `i` of `node` for reading, keeping the tree's lifetime where possible.
pub(crate) fn open_child<'a, S: BlockSource + ?Sized>(
    node: &NodeRef<'a>,
    i: usize,
    src: &S,
) -> Result<Option<NodeRef<'a>>, MstError> {
    let layer = Some(node.child_layer());
    match node {
        NodeRef::Mem(n) => open(n.link_at(i), src, layer),
        NodeRef::Owned(n) => Ok(match n.link_at(i) {
            Link::Empty => None,
            Link::Stub(c) => Some(NodeRef::Owned(Box::new(load_node(src, c, layer)?))),
            // Decoded nodes only hold stubs; cloning keeps this total without borrowing trouble.
            Link::Loaded(b) => Some(NodeRef::Owned(b.clone())),
        }),
    }
}

/// Make sure `link` is loaded in place and return the node (`None` for an empty link).
fn loaded<'a, S: BlockSource + ?Sized>(
    link: &'a mut Link,
    src: &S,
    layer: Option<u8>,
) -> Result<Option<&'a mut Node>, MstError> {
    if let Link::Stub(c) = *link {
        *link = Link::Loaded(Box::new(load_node(src, &c, layer)?));
    }
    Ok(match link {
        Link::Loaded(n) => Some(n),
        _ => None,
    })
}

/// Take ownership of the node behind a link, loading it if needed.
fn take_node<S: BlockSource + ?Sized>(
    link: Link,
    src: &S,
    layer: u8,
) -> Result<Option<Box<Node>>, MstError> {
    Ok(match link {
        Link::Empty => None,
        Link::Stub(c) => Some(Box::new(load_node(src, &c, Some(layer))?)),
        Link::Loaded(n) => Some(n),
    })
}

/// A node with neither entries nor a left subtree is no node at all.
fn normalise(node: Box<Node>) -> Link {
    if node.is_hollow() {
        Link::Empty
    } else {
        Link::Loaded(node)
    }
}

/// Split the subtree at `link` (layer `layer`) around absent `key` into the parts below and
/// above it. Only nodes on `key`'s search path are touched.
fn split<S: BlockSource + ?Sized>(
    link: Link,
    layer: u8,
    key: &[u8],
    src: &S,
) -> Result<(Link, Link), MstError> {
    let Some(mut node) = take_node(link, src, layer)? else {
        return Ok((Link::Empty, Link::Empty));
    };
    let i = node
        .search(key)
        .err()
        .ok_or_else(|| MstError::NotCanonical {
            cid: node.cid,
            key: Some(String::from_utf8_lossy(key).into_owned()),
            reason: "key found below a node of its own layer",
        })?;
    let gap = std::mem::take(node.link_at_mut(i));
    let (below, above) = split(gap, node.child_layer(), key, src)?;
    let upper = node.entries.split_off(i);
    *node.link_at_mut(i) = below;
    node.cid = None;
    let right = Box::new(Node {
        layer,
        cid: None,
        left: above,
        entries: upper,
    });
    Ok((normalise(node), normalise(right)))
}

/// Join two adjacent subtrees of the same layer (every key of `a` below every key of `b`).
/// Only the right spine of `a` and the left spine of `b` are touched.
fn merge<S: BlockSource + ?Sized>(a: Link, b: Link, layer: u8, src: &S) -> Result<Link, MstError> {
    if a.is_empty() {
        return Ok(b);
    }
    if b.is_empty() {
        return Ok(a);
    }
    let (Some(mut a), Some(mut b)) = (take_node(a, src, layer)?, take_node(b, src, layer)?) else {
        return Err(MstError::NotCanonical {
            cid: None,
            key: None,
            reason: "merge of empty subtrees",
        });
    };
    let trailing = a.entries.len();
    let a_tail = std::mem::take(a.link_at_mut(trailing));
    let b_head = std::mem::take(&mut b.left);
    let mid = merge(a_tail, b_head, a.child_layer(), src)?;
    *a.link_at_mut(trailing) = mid;
    if a.entries.len() + b.entries.len() > MAX_NODE_ENTRIES {
        return Err(MstError::TooManyEntries {
            cid: None,
            count: a.entries.len() + b.entries.len(),
        });
    }
    a.entries.append(&mut b.entries);
    a.cid = None;
    Ok(Link::Loaded(a))
}

/// Wrap a subtree of layer `from` in empty nodes until its top is at layer `to`.
fn wrap(mut link: Link, from: u8, to: u8) -> Link {
    for layer in from + 1..=to {
        if link.is_empty() {
            break;
        }
        link = Link::Loaded(Box::new(Node {
            layer,
            cid: None,
            left: link,
            entries: Vec::new(),
        }));
    }
    link
}

fn put_in<S: BlockSource + ?Sized>(
    node: &mut Node,
    src: &S,
    key: Key,
    klayer: u8,
    value: Cid,
) -> Result<Option<Cid>, MstError> {
    match node.search(key.as_bytes()) {
        Ok(i) => {
            let e = &mut node.entries[i];
            if e.value == value {
                return Ok(Some(value));
            }
            let old = std::mem::replace(&mut e.value, value);
            node.cid = None;
            Ok(Some(old))
        }
        Err(i) if klayer == node.layer => {
            if node.entries.len() >= MAX_NODE_ENTRIES {
                return Err(MstError::TooManyEntries {
                    cid: node.cid,
                    count: node.entries.len() + 1,
                });
            }
            let gap = std::mem::take(node.link_at_mut(i));
            let (below, above) = split(gap, node.child_layer(), key.as_bytes(), src)?;
            *node.link_at_mut(i) = below;
            node.entries.insert(
                i,
                Entry {
                    key,
                    value,
                    right: above,
                },
            );
            node.cid = None;
            Ok(None)
        }
        Err(i) => {
            let child_layer = node.child_layer();
            let link = node.link_at_mut(i);
            if link.is_empty() {
                *link = Link::Loaded(Box::new(Node::empty(child_layer)));
            }
            let Some(child) = loaded(link, src, Some(child_layer))? else {
                return Ok(None);
            };
            let old = put_in(child, src, key, klayer, value)?;
            if child.cid.is_none() {
                node.cid = None;
            }
            Ok(old)
        }
    }
}

fn remove_in<S: BlockSource + ?Sized>(
    node: &mut Node,
    src: &S,
    key: &Key,
    klayer: u8,
) -> Result<Option<Cid>, MstError> {
    match node.search(key.as_bytes()) {
        Ok(i) => {
            let e = node.entries.remove(i);
            let before = std::mem::take(node.link_at_mut(i));
            let merged = merge(before, e.right, node.child_layer(), src)?;
            *node.link_at_mut(i) = merged;
            node.cid = None;
            Ok(Some(e.value))
        }
        Err(_) if klayer >= node.layer => Ok(None),
        Err(i) => {
            let child_layer = node.child_layer();
            let link = node.link_at_mut(i);
            let Some(child) = loaded(link, src, Some(child_layer))? else {
                return Ok(None);
            };
            let old = remove_in(child, src, key, klayer)?;
            if old.is_some() {
                if child.is_hollow() {
                    *link = Link::Empty;
                }
                node.cid = None;
            }
            Ok(old)
        }
    }
}

/// Hash every dirty node below and including `node`, children first, feeding new blocks to
/// `sink`. One `Writer` buffer serves the whole walk: a parent is encoded only after all its
/// children are done.
fn hash_node(node: &mut Node, w: &mut Writer, sink: &mut dyn FnMut(&Cid, &[u8])) -> Cid {
    if let Some(c) = node.cid {
        return c;
    }
    if let Link::Loaded(n) = &mut node.left {
        hash_node(n, w, sink);
    }
    for e in &mut node.entries {
        if let Link::Loaded(n) = &mut e.right {
            hash_node(n, w, sink);
        }
    }
    w.clear();
    encode_node(
        w,
        node.left.cid(),
        node.entries
            .iter()
            .map(|e| (e.key.as_bytes(), &e.value, e.right.cid())),
    );
    let cid = Cid::for_cbor(w.as_slice());
    sink(&cid, w.as_slice());
    node.cid = Some(cid);
    cid
}

/// A Merkle Search Tree over a (possibly partial) set of node blocks.
///
/// Nodes are loaded lazily from the [`BlockSource`] passed to each operation; edits keep the
/// touched nodes in memory until [`Mst::commit`] hashes them. If an editing method fails
/// (a missing block, a node over the entry limit), the tree may be half-edited: discard it and
/// [`Mst::load`] the last committed root again.
#[derive(Debug, Clone, Default)]
pub struct Mst {
    pub(crate) root: Link,
    /// For an empty tree: whether its (constant) root block was already handed out.
    empty_hashed: bool,
}

impl Mst {
    /// An empty tree.
    pub fn new() -> Mst {
        Mst::default()
    }

    /// The tree whose root node is `root`. Nothing is read until an operation needs it.
    pub fn load(root: Cid) -> Mst {
        Mst {
            root: Link::Stub(root),
            empty_hashed: true,
        }
    }

    /// Build the tree of a strictly ascending sequence of entries in one pass. Node CIDs are
    /// computed by the next [`Mst::commit`].
    pub fn build<I: IntoIterator<Item = (Key, Cid)>>(entries: I) -> Result<Mst, MstError> {
        build_inner(entries, None)
    }

    /// Build like [`Mst::build`] and hash each node as soon as it is complete, while it is
    /// still in cache, handing its block to `sink` (bulk imports and benchmarks). Returns the
    /// committed tree and its root CID.
    pub fn build_with<I: IntoIterator<Item = (Key, Cid)>>(
        entries: I,
        sink: &mut dyn FnMut(&Cid, &[u8]),
    ) -> Result<(Mst, Cid), MstError> {
        let mut w = Writer::with_capacity(1024);
        let mut mst = build_inner(entries, Some((&mut w, sink)))?;
        let root = mst.commit_with(sink);
        Ok((mst, root))
    }

    /// The root CID of the tree of a strictly ascending sequence of entries, handing every
    /// node block to `sink` once, as soon as the node is complete, without keeping the tree
    /// (each finished node is reduced to its CID). The blocks and root are exactly those of
    /// [`Mst::build_with`]; keys may be borrowed. The fast path for bulk imports and exports.
    pub fn build_root<K: Borrow<Key>, I: IntoIterator<Item = (K, Cid)>>(
        entries: I,
        sink: &mut dyn FnMut(&Cid, &[u8]),
    ) -> Result<Cid, MstError> {
        build_root(entries, sink)
    }

    /// The root CID if nothing changed since the last [`Mst::commit`] (or load).
    pub fn root_cid(&self) -> Option<Cid> {
        match &self.root {
            Link::Empty => self.empty_hashed.then(empty_root_cid),
            link => link.cid().copied(),
        }
    }

    /// Whether the tree has changes not yet hashed.
    pub fn is_dirty(&self) -> bool {
        self.root_cid().is_none()
    }

    /// Hash every node changed since the last commit and return the root CID and the new node
    /// blocks (only dirty nodes are encoded and hashed).
    pub fn commit(&mut self) -> (Cid, Vec<(Cid, Vec<u8>)>) {
        let mut blocks = Vec::new();
        let root = self.commit_with(&mut |cid, bytes| blocks.push((*cid, bytes.to_vec())));
        (root, blocks)
    }

    /// Like [`Mst::commit`], handing each new block to `sink` instead of collecting them.
    pub fn commit_with(&mut self, sink: &mut dyn FnMut(&Cid, &[u8])) -> Cid {
        match &mut self.root {
            Link::Empty => {
                let cid = empty_root_cid();
                if !self.empty_hashed {
                    sink(&cid, &EMPTY_NODE);
                    self.empty_hashed = true;
                }
                cid
            }
            Link::Stub(c) => *c,
            Link::Loaded(n) => {
                let mut w = Writer::with_capacity(1024);
                hash_node(n, &mut w, sink)
            }
        }
    }

    /// Load a stub root; an empty root node becomes [`Link::Empty`].
    pub(crate) fn ensure_root<S: BlockSource + ?Sized>(&mut self, src: &S) -> Result<(), MstError> {
        if let Link::Stub(c) = self.root {
            let node = load_node(src, &c, None)?;
            self.root = if node.is_hollow() {
                Link::Empty
            } else {
                Link::Loaded(Box::new(node))
            };
        }
        Ok(())
    }

    /// The value stored under `key`.
    pub fn get<S: BlockSource + ?Sized>(
        &self,
        src: &S,
        key: &Key,
    ) -> Result<Option<Cid>, MstError> {
        let klayer = key.layer();
        let Some(mut node) = open(&self.root, src, None)? else {
            return Ok(None);
        };
        loop {
            if klayer > node.layer {
                return Ok(None);
            }
            match node.search(key.as_bytes()) {
                Ok(i) => return Ok(Some(node.entries[i].value)),
                Err(_) if klayer == node.layer => return Ok(None),
                Err(i) => match open_child(&node, i, src)? {
                    Some(child) => node = child,
                    None => return Ok(None),
                },
            }
        }
    }

    /// Set `key` to `value`; returns the previous value.
    pub fn put<S: BlockSource + ?Sized>(
        &mut self,
        src: &S,
        key: Key,
        value: Cid,
    ) -> Result<Option<Cid>, MstError> {
        let klayer = key.layer();
        if klayer > MAX_LAYER {
            return Err(MstError::TooDeep(klayer));
        }
        self.ensure_root(src)?;
        let root_layer = match &self.root {
            Link::Loaded(n) => n.layer,
            _ => {
                let node = Node {
                    layer: klayer,
                    cid: None,
                    left: Link::Empty,
                    entries: Vec::new(),
                };
                self.root = Link::Loaded(Box::new(node));
                klayer
            }
        };
        if klayer > root_layer {
            // The key outranks the root: it becomes the new root, the old tree split around it.
            let old = std::mem::take(&mut self.root);
            let (below, above) = split(old, root_layer, key.as_bytes(), src)?;
            let left = wrap(below, root_layer, klayer - 1);
            let right = wrap(above, root_layer, klayer - 1);
            let entries = vec![Entry { key, value, right }];
            self.root = Link::Loaded(Box::new(Node {
                layer: klayer,
                cid: None,
                left,
                entries,
            }));
            return Ok(None);
        }
        let Link::Loaded(root) = &mut self.root else {
            return Ok(None);
        };
        put_in(root, src, key, klayer, value)
    }

    /// Remove `key`; returns the removed value.
    pub fn delete<S: BlockSource + ?Sized>(
        &mut self,
        src: &S,
        key: &Key,
    ) -> Result<Option<Cid>, MstError> {
        self.ensure_root(src)?;
        let Link::Loaded(root) = &mut self.root else {
            return Ok(None);
        };
        let klayer = key.layer();
        if klayer > root.layer {
            return Ok(None);
        }
        let old = remove_in(root, src, key, klayer)?;
        if old.is_some() {
            self.trim_root(src)?;
        }
        Ok(old)
    }

    /// A root without entries is replaced by its only subtree, repeatedly.
    fn trim_root<S: BlockSource + ?Sized>(&mut self, src: &S) -> Result<(), MstError> {
        loop {
            let Link::Loaded(root) = &mut self.root else {
                return Ok(());
            };
            if !root.entries.is_empty() {
                return Ok(());
            }
            let layer = root.child_layer();
            let child = std::mem::take(&mut root.left);
            self.root = child;
            if self.root.is_empty() {
                self.empty_hashed = false;
                return Ok(());
            }
            loaded(&mut self.root, src, Some(layer))?;
        }
    }

    /// Apply many writes (`Some(cid)` = put, `None` = delete); returns each previous value.
    pub fn apply<S: BlockSource + ?Sized>(
        &mut self,
        src: &S,
        writes: impl IntoIterator<Item = (Key, Option<Cid>)>,
    ) -> Result<Vec<Option<Cid>>, MstError> {
        writes
            .into_iter()
            .map(|(key, value)| match value {
                Some(v) => self.put(src, key, v),
                None => self.delete(src, &key),
            })
            .collect()
    }
}

type Hasher<'a> = Option<(&'a mut Writer, &'a mut dyn FnMut(&Cid, &[u8]))>;

/// One-pass bulk build: keep the open (rightmost) node of every layer; a key of layer `L`
/// closes the open nodes below `L`, each becoming the trailing subtree of the layer above,
/// then joins layer `L`'s open node. Closed nodes are final, so they can be hashed at once.
fn build_inner<I: IntoIterator<Item = (Key, Cid)>>(
    entries: I,
    mut hasher: Hasher<'_>,
) -> Result<Mst, MstError> {
    #[derive(Default)]
    struct Open {
        left: Link,
        entries: Vec<Entry>,
    }
    fn close(open: &mut Open, layer: u8, hasher: &mut Hasher<'_>) -> Link {
        let open = std::mem::take(open);
        if open.entries.is_empty() && open.left.is_empty() {
            return Link::Empty;
        }
        let mut node = Box::new(Node {
            layer,
            cid: None,
            left: open.left,
            entries: open.entries,
        });
        if let Some((w, sink)) = hasher {
            hash_node(&mut node, w, *sink);
        }
        Link::Loaded(node)
    }
    fn close_below(stack: &mut [Open], upto: usize, hasher: &mut Hasher<'_>) {
        for l in 0..upto {
            let link = close(&mut stack[l], l as u8, hasher);
            if !link.is_empty() {
                let above = &mut stack[l + 1];
                match above.entries.last_mut() {
                    Some(e) => e.right = link,
                    None => above.left = link,
                }
            }
        }
    }

    let mut stack: Vec<Open> = Vec::new();
    let mut last_layer: Option<usize> = None;
    for (key, value) in entries {
        if let Some(l) = last_layer {
            let prev = stack[l].entries.last().map(|e| e.key.as_bytes());
            if prev.is_some_and(|p| p >= key.as_bytes()) {
                return Err(MstError::Unsorted {
                    key: key.as_str().to_owned(),
                });
            }
        }
        let layer = key.layer();
        if layer > MAX_LAYER {
            return Err(MstError::TooDeep(layer));
        }
        let layer = usize::from(layer);
        if stack.len() <= layer {
            stack.resize_with(layer + 1, Open::default);
        }
        close_below(&mut stack, layer, &mut hasher);
        let open = &mut stack[layer];
        if open.entries.len() >= MAX_NODE_ENTRIES {
            return Err(MstError::TooManyEntries {
                cid: None,
                count: open.entries.len() + 1,
            });
        }
        open.entries.push(Entry {
            key,
            value,
            right: Link::Empty,
        });
        last_layer = Some(layer);
    }
    let Some(top) = stack.len().checked_sub(1) else {
        return Ok(Mst::new());
    };
    close_below(&mut stack, top, &mut hasher);
    // The root is hashed by the caller's commit, like any other dirty node.
    Ok(Mst {
        root: close(&mut stack[top], top as u8, &mut None),
        empty_hashed: false,
    })
}

/// [`build_inner`] without a tree: the open (rightmost) node of each layer holds its entries
/// until a higher key closes it; a closed node is encoded, hashed, handed to `sink` and
/// replaced by its CID in its parent.
fn build_root<K: Borrow<Key>, I: IntoIterator<Item = (K, Cid)>>(
    entries: I,
    sink: &mut dyn FnMut(&Cid, &[u8]),
) -> Result<Cid, MstError> {
    let mut b = Builder::new();
    for (key, value) in entries {
        let layer = key.borrow().layer();
        b.push(key, value, layer, sink)?;
    }
    b.finish(0, sink)
}

/// The bulk build's state: one open node per layer, lowest first. Keys arrive in ascending
/// order; a key at layer `l` completes every open node below `l` (each is encoded, hashed,
/// handed to the sink and linked from the node above), then joins the node at `l`.
pub(crate) struct Builder<K> {
    stack: Vec<Open<K>>,
    w: Writer,
    /// Whether any key has been pushed (the previous key is then the last entry of the
    /// node at `last_layer`).
    last_layer: Option<usize>,
    /// Whether to check that keys ascend (not when the caller already has).
    check_order: bool,
}

struct Open<K> {
    left: Option<Cid>,
    /// (key, value, right subtree)
    entries: Vec<(K, Cid, Option<Cid>)>,
}

impl<K> Default for Open<K> {
    fn default() -> Open<K> {
        Open {
            left: None,
            entries: Vec::new(),
        }
    }
}

impl<K: Borrow<Key>> Builder<K> {
    pub(crate) fn new() -> Builder<K> {
        Builder {
            stack: Vec::new(),
            w: Writer::with_capacity(1024),
            last_layer: None,
            check_order: true,
        }
    }

    /// A builder for keys the caller has already checked to be strictly ascending.
    pub(crate) fn presorted() -> Builder<K> {
        Builder {
            check_order: false,
            ..Builder::new()
        }
    }

    /// Add the next key (strictly above the previous one) at its `layer`.
    pub(crate) fn push(
        &mut self,
        key: K,
        value: Cid,
        layer: u8,
        sink: &mut dyn FnMut(&Cid, &[u8]),
    ) -> Result<(), MstError> {
        if let Some(l) = self.last_layer.filter(|_| self.check_order) {
            let prev = self.stack[l]
                .entries
                .last()
                .map(|e| e.0.borrow().as_bytes());
            if prev.is_some_and(|p| p >= key.borrow().as_bytes()) {
                return Err(MstError::Unsorted {
                    key: key.borrow().as_str().to_owned(),
                });
            }
        }
        if layer > MAX_LAYER {
            return Err(MstError::TooDeep(layer));
        }
        let layer = usize::from(layer);
        self.grow(layer);
        self.close_below(layer, sink);
        let open = &mut self.stack[layer];
        if open.entries.len() >= MAX_NODE_ENTRIES {
            return Err(MstError::TooManyEntries {
                cid: None,
                count: open.entries.len() + 1,
            });
        }
        open.entries.push((key, value, None));
        self.last_layer = Some(layer);
        Ok(())
    }

    /// Link a finished subtree whose root is at layer `layer - 1` into the gap after the
    /// last key pushed (its keys lie between that key and the next): exactly what completing
    /// the open node below `layer` would do.
    pub(crate) fn attach(&mut self, layer: usize, subtree: Cid, sink: &mut dyn FnMut(&Cid, &[u8])) {
        self.grow(layer);
        self.close_below(layer, sink);
        let above = &mut self.stack[layer];
        match above.entries.last_mut() {
            Some(e) => e.2 = Some(subtree),
            None => above.left = Some(subtree),
        }
    }

    /// Complete the tree and return its root: at the layer of the highest key, or at
    /// `min_top` if that is higher (a subtree hanging below a key of layer `min_top + 1`,
    /// which then starts with empty layer-step nodes). With no keys at all: the empty
    /// tree's root when `min_top` is 0, otherwise `None` (no subtree in that gap).
    pub(crate) fn finish(
        mut self,
        min_top: usize,
        sink: &mut dyn FnMut(&Cid, &[u8]),
    ) -> Result<Cid, MstError> {
        self.finish_subtree(min_top, sink).map_or_else(
            || {
                let cid = empty_root_cid();
                sink(&cid, &EMPTY_NODE);
                Ok(cid)
            },
            Ok,
        )
    }

    /// [`Builder::finish`] for a gap subtree: `None` when nothing was pushed or attached.
    pub(crate) fn finish_subtree(
        &mut self,
        min_top: usize,
        sink: &mut dyn FnMut(&Cid, &[u8]),
    ) -> Option<Cid> {
        if self.stack.is_empty() {
            return None;
        }
        let top = (self.stack.len() - 1).max(min_top);
        self.grow(top);
        self.close_below(top, sink);
        // The top layer's node holds at least the key or subtree that opened the build.
        let Builder { stack, w, .. } = self;
        close(&mut stack[top], w, sink)
    }

    fn grow(&mut self, layer: usize) {
        if self.stack.len() <= layer {
            self.stack.resize_with(layer + 1, Open::default);
        }
    }

    /// Complete every open node below `upto`, linking each into the node above it.
    fn close_below(&mut self, upto: usize, sink: &mut dyn FnMut(&Cid, &[u8])) {
        for l in 0..upto {
            if let Some(cid) = close(&mut self.stack[l], &mut self.w, sink) {
                let above = &mut self.stack[l + 1];
                match above.entries.last_mut() {
                    Some(e) => e.2 = Some(cid),
                    None => above.left = Some(cid),
                }
            }
        }
    }
}

/// Encode and hash `open` (emptied for reuse); `None` when there is no node at all.
fn close<K: Borrow<Key>>(
    open: &mut Open<K>,
    w: &mut Writer,
    sink: &mut dyn FnMut(&Cid, &[u8]),
) -> Option<Cid> {
    if open.entries.is_empty() && open.left.is_none() {
        return None;
    }
    w.clear();
    encode_node(
        w,
        open.left.as_ref(),
        open.entries
            .iter()
            .map(|(k, v, r)| (k.borrow().as_bytes(), v, r.as_ref())),
    );
    let cid = Cid::for_cbor(w.as_slice());
    sink(&cid, w.as_slice());
    open.left = None;
    open.entries.clear();
    Some(cid)
}

/// CID of the empty tree's root node `{e: [], l: null}`.
pub fn empty_root_cid() -> Cid {
    Cid::for_cbor(&EMPTY_NODE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<(Key, Cid)> {
        (0..n)
            .map(|i| {
                let key = Key::from_parts("app.bsky.feed.post", &format!("3k{i:011}")).unwrap();
                (key, Cid::for_cbor(&(i as u64).to_le_bytes()))
            })
            .collect()
    }

    #[test]
    fn build_root_emits_the_same_blocks_and_root_as_build_with() {
        for n in [0, 1, 2, 3, 17, 300, 5000] {
            let entries = keys(n);
            let mut expected = Vec::new();
            let (_, root) = Mst::build_with(entries.iter().cloned(), &mut |c, b| {
                expected.push((*c, b.to_vec()))
            })
            .unwrap();
            let mut got = Vec::new();
            let streamed = Mst::build_root(entries.iter().map(|(k, c)| (k, *c)), &mut |c, b| {
                got.push((*c, b.to_vec()))
            })
            .unwrap();
            assert_eq!(streamed, root, "{n} keys");
            assert_eq!(got, expected, "{n} keys");
        }
    }

    #[test]
    fn build_root_refuses_unsorted_or_repeated_keys() {
        let mut entries = keys(50);
        entries.swap(10, 40);
        let err = Mst::build_root(entries.iter().map(|(k, c)| (k, *c)), &mut |_, _| {});
        assert!(matches!(err, Err(MstError::Unsorted { .. })));
        let mut entries = keys(50);
        entries[20] = entries[19].clone();
        let err = Mst::build_root(entries.iter().map(|(k, c)| (k, *c)), &mut |_, _| {});
        assert!(matches!(err, Err(MstError::Unsorted { .. })));
    }
}
