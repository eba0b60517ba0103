//! Key layout: `PREFIX/TREE/KEY`, where KEY is the store's own binary key, byte for byte
//! (etcd keys are arbitrary bytes and sort bytewise, so a tree's range scan is the same order
//! as sled's). The `/` after the prefix and after the tree keep `rel` from matching `rel2`,
//! and `releases` from matching `releases_x`.

/// The keys of one store under its prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `PREFIX/`.
    root: Vec<u8>,
}

impl Layout {
    pub fn new(prefix: &str) -> Layout {
        let mut root = prefix.trim_matches('/').as_bytes().to_vec();
        root.push(b'/');
        Layout { root }
    }

    /// `PREFIX/`: every key of this store starts with it.
    pub fn root(&self) -> &[u8] {
        &self.root
    }

    /// `PREFIX/TREE/`.
    pub fn tree(&self, tree: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.root.len() + tree.len() + 1);
        k.extend_from_slice(&self.root);
        k.extend_from_slice(tree.as_bytes());
        k.push(b'/');
        k
    }

    /// `PREFIX/TREE/KEY`.
    pub fn key(&self, tree: &str, key: &[u8]) -> Vec<u8> {
        let mut k = self.tree(tree);
        k.extend_from_slice(key);
        k
    }

    /// `(tree, key)` of a full etcd key, or None for a key outside this layout.
    pub fn split<'k>(&self, full: &'k [u8]) -> Option<(&'k str, &'k [u8])> {
        let rest = full.strip_prefix(self.root.as_slice())?;
        let slash = rest.iter().position(|b| *b == b'/')?;
        let tree = std::str::from_utf8(&rest[..slash]).ok()?;
        Some((tree, &rest[slash + 1..]))
    }
}

/// The smallest key greater than every key starting with `prefix` (etcd's range end for a
/// prefix); empty means "no end" (etcd's convention for a prefix of all 0xff).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_binary_safe_and_split_back() {
        let l = Layout::new("/teams/web/");
        let k = l.key("stack", b"prod\x00\x00\xff/\x01");
        assert_eq!(&k[..], b"teams/web/stack/prod\x00\x00\xff/\x01");
        assert_eq!(l.split(&k), Some(("stack", &b"prod\x00\x00\xff/\x01"[..])));
        assert_eq!(l.split(b"teams/webx/stack/a"), None);
        assert_eq!(Layout::new("rel").split(b"rel2/meta/a"), None);
    }

    #[test]
    fn prefix_end_bounds_the_prefix() {
        assert_eq!(prefix_end(b"rel/a/"), b"rel/a0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
        assert!(b"rel/a/\xff\xff".as_slice() < prefix_end(b"rel/a/").as_slice());
    }
}
