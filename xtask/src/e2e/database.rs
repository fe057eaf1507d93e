//! A database of the run's own on the PostgreSQL server that
//! `LATCHKEY_TEST_DATABASE_URL` points at, dropped afterwards however the run ends.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

use crate::fleet::psql;

#[derive(Debug)]
pub(crate) struct FreshDatabase {
    /// The server's database we were given: where the new one is created and dropped.
    admin_url: String,
    name: String,
    pub(crate) url: String,
}

impl FreshDatabase {
    pub(crate) fn create(server_url: &str) -> anyhow::Result<Self> {
        let seconds = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let name = format!("latchkey_e2e_{seconds}_{}", std::process::id());
        let url = with_database(server_url, &name)?;
        psql(server_url, &format!("CREATE DATABASE \"{name}\""))
            .context("cannot create the end-to-end database")?;
        Ok(Self {
            admin_url: server_url.to_owned(),
            name,
            url,
        })
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(error) = psql(&self.admin_url, &drop) {
            println!("xtask: could not drop {}: {error:#}", self.name);
        }
    }
}

/// `url` with its database name replaced by `name`, keeping the query.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base
        .find("://")
        .context("LATCHKEY_TEST_DATABASE_URL is not a URL")?
        + 3;
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |slash| authority_start + slash);
    let mut replaced = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        replaced.push('?');
        replaced.push_str(query);
    }
    Ok(replaced)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_only_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "e2e").unwrap(),
            "postgres://postgres@127.0.0.1:5432/e2e"
        );
        assert_eq!(
            with_database("postgres://u:p@db/test?sslmode=disable", "e2e").unwrap(),
            "postgres://u:p@db/e2e?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://db", "e2e").unwrap(),
            "postgres://db/e2e"
        );
    }
}
