//! `relctl token create | list | revoke`: bearer tokens for the HTTP ingress (§4.5). The
//! daemon stores only a hash, so the secret is printed once, by `create`.

use rel_proto::{Request, Response};

use crate::cli::TokenCmd;
use crate::session::Session;
use crate::{json, reply, table_exec};

pub async fn run(s: &Session, cmd: TokenCmd) -> anyhow::Result<()> {
    let conn = s.connect().await?;
    match cmd {
        TokenCmd::Create { name } => {
            let (info, secret) = reply!(conn, Request::TokenCreate { name },
                Response::TokenCreated { info, secret } => (info, secret));
            s.show(
                || table_exec::token_created(&info, &secret),
                || json::token_created(&info, &secret),
            )
        }
        TokenCmd::List => {
            let list = reply!(conn, Request::TokenList, Response::Tokens(l) => l);
            s.show(|| table_exec::tokens(&list, s.ctx), || json::tokens(&list))
        }
        TokenCmd::Revoke { name } => {
            reply!(conn, Request::TokenRevoke { name: name.clone() }, Response::Done => ());
            s.show(
                || format!("revoked token {name}; requests that use it now get 401\n"),
                || json::TokenRevokedJson {
                    name: name.clone(),
                    revoked: true,
                },
            )
        }
    }
}
