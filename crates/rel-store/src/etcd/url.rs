//! `etcd://HOST:PORT[,HOST:PORT…][/PREFIX]`: where the cluster is and which key prefix this
//! rel store lives under (several stores may share one cluster under different prefixes).

use super::EtcdError;

/// The prefix when the URL names none.
pub const DEFAULT_PREFIX: &str = "rel";

/// A parsed `--store etcd://…` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdUrl {
    /// `HOST:PORT`, in the order given.
    pub endpoints: Vec<String>,
    /// The key prefix (no leading or trailing `/`), e.g. `rel` or `teams/web`.
    pub prefix: String,
}

impl EtcdUrl {
    /// Parse `etcd://HOST:PORT[,HOST:PORT…][/PREFIX]`.
    pub fn parse(input: &str) -> Result<EtcdUrl, EtcdError> {
        let bad = |reason: String| EtcdError::Url {
            input: input.to_string(),
            reason,
        };
        let rest = input
            .strip_prefix("etcd://")
            .ok_or_else(|| bad("it must start with etcd://".into()))?;
        if rest.contains("://") {
            return Err(bad(
                "an endpoint has a scheme; write HOST:PORT (TLS is chosen by --etcd-cacert)".into(),
            ));
        }
        let (hosts, prefix) = match rest.split_once('/') {
            Some((h, p)) => (h, p.trim_matches('/')),
            None => (rest, ""),
        };
        if hosts.is_empty() {
            return Err(bad("it names no HOST:PORT".into()));
        }
        let mut endpoints = Vec::new();
        for ep in hosts.split(',') {
            endpoints.push(parse_endpoint(ep).map_err(&bad)?);
        }
        let prefix = if prefix.is_empty() {
            DEFAULT_PREFIX.to_string()
        } else {
            prefix.to_string()
        };
        if let Some(c) = prefix
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')))
        {
            return Err(bad(format!(
                "the prefix {prefix:?} contains {c:?}; use letters, digits, '-', '_', '.' and '/'"
            )));
        }
        if prefix.split('/').any(str::is_empty) {
            return Err(bad(format!(
                "the prefix {prefix:?} has an empty segment (//)"
            )));
        }
        Ok(EtcdUrl { endpoints, prefix })
    }

    /// The URL again, in its canonical form (for status and logs).
    pub fn display(&self) -> String {
        format!("etcd://{}/{}", self.endpoints.join(","), self.prefix)
    }
}

fn parse_endpoint(ep: &str) -> Result<String, String> {
    if ep.is_empty() {
        return Err("an endpoint between commas is empty".into());
    }
    let (host, port) = if let Some(v6) = ep.strip_prefix('[') {
        let (h, p) = v6
            .split_once("]:")
            .ok_or_else(|| format!("endpoint {ep:?}: write an IPv6 address as [ADDR]:PORT"))?;
        (h, p)
    } else {
        ep.rsplit_once(':').ok_or_else(|| {
            format!(
                "endpoint {ep:?} has no port; write HOST:PORT (etcd's client port is usually 2379)"
            )
        })?
    };
    if host.is_empty() {
        return Err(format!("endpoint {ep:?} has no host"));
    }
    if host.chars().any(|c| c.is_whitespace() || c == '@') {
        return Err(format!(
            "endpoint {ep:?}: the host contains a space or '@' (credentials go in --etcd-user and --etcd-password-file)"
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(ep.to_string()),
        _ => Err(format!(
            "endpoint {ep:?}: port {port:?} is not a number from 1 to 65535"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_endpoints_and_prefix() {
        let u = EtcdUrl::parse("etcd://10.0.0.1:2379,etcd-b:2379/teams/web/").expect("valid");
        assert_eq!(u.endpoints, ["10.0.0.1:2379", "etcd-b:2379"]);
        assert_eq!(u.prefix, "teams/web");
        assert_eq!(u.display(), "etcd://10.0.0.1:2379,etcd-b:2379/teams/web");
        let u = EtcdUrl::parse("etcd://[::1]:2379").expect("valid");
        assert_eq!(u.endpoints, ["[::1]:2379"]);
        assert_eq!(u.prefix, DEFAULT_PREFIX);
    }

    #[test]
    fn refuses_with_the_reason() {
        for (input, needle) in [
            ("http://a:1", "must start with etcd://"),
            ("etcd://", "names no HOST:PORT"),
            ("etcd://a", "has no port"),
            ("etcd://a:0", "not a number"),
            ("etcd://a:99999", "not a number"),
            ("etcd://a:1,,b:2", "empty"),
            ("etcd://http://a:1", "has a scheme"),
            ("etcd://user@a:1", "--etcd-password-file"),
            ("etcd://a:1/x y", "contains ' '"),
            ("etcd://a:1/x//y", "empty segment"),
        ] {
            let e = EtcdUrl::parse(input).expect_err(input).to_string();
            assert!(e.contains(needle), "{input}: {e}");
            assert!(e.contains("--store"), "{input}: {e}");
        }
    }
}
