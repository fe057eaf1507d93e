//! [`Database`]: one handle over the connections of SQLite or PostgreSQL, with
//! SQLite's single writer built in.
//!
//! SQLite allows one writer at a time. A pool of several connections that all write
//! makes them race for the lock, and a deferred transaction that read before another
//! connection wrote fails at once with "database is locked", whatever the busy
//! timeout. So on SQLite every write goes through one connection, whose transactions
//! begin `IMMEDIATE`, while plain reads go to a pool of read-only connections that WAL
//! lets run beside it. Writes queue for the writer instead of failing. PostgreSQL
//! needs none of this: both sides are the same pool.

use std::fmt::{Debug, Display};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, ExecResult, IsolationLevel, QueryResult, SqliteTransactionMode, Statement,
    TransactionError, TransactionOptions, TransactionSession, TransactionTrait,
};

use crate::outage::Outage;

/// How long a connection waits for SQLite's lock when another process (a CLI command,
/// a separate worker) holds it. Within one process the writer never waits for it.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request waits for a connection of the pool.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a caller of [`TransactionTrait::transaction`] runs inside the transaction.
type Work<'c, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>;

/// Implements [`TransactionTrait`] for a type from its three `begin` methods, given in
/// the braces: running a callback in a transaction is the same for the database and
/// for a transaction (where it is a savepoint), begin and then [`Transaction::run`].
/// A macro rather than a generic, since the trait is sea-orm's and async-trait's
/// rewriting has to see every method of the impl.
macro_rules! transaction_trait {
    (impl for $type:ty { $($begin:tt)* }) => {
        #[async_trait::async_trait]
        impl TransactionTrait for $type {
            type Transaction = Transaction;

            $($begin)*

            async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
            where
                F: for<'c> FnOnce(&'c Transaction) -> Work<'c, T, E> + Send,
                T: Send,
                E: Display + Debug + Send,
            {
                let txn = self.begin().await.map_err(TransactionError::Connection)?;
                txn.run(callback).await
            }

            async fn transaction_with_config<F, T, E>(
                &self,
                callback: F,
                isolation_level: Option<IsolationLevel>,
                access_mode: Option<AccessMode>,
            ) -> Result<T, TransactionError<E>>
            where
                F: for<'c> FnOnce(&'c Transaction) -> Work<'c, T, E> + Send,
                T: Send,
                E: Display + Debug + Send,
            {
                self.begin_with_config(isolation_level, access_mode)
                    .await
                    .map_err(TransactionError::Connection)?
                    .run(callback)
                    .await
            }
        }
    };
}

/// The database, cheap to clone. Implements sea-orm's [`ConnectionTrait`] and
/// [`TransactionTrait`], so it goes wherever a connection does.
#[derive(Debug, Clone)]
pub struct Database {
    /// Every write, and every transaction.
    writer: DatabaseConnection,
    /// Statements that only read; on PostgreSQL the same pool as `writer`.
    reader: DatabaseConnection,
    /// PostgreSQL's server can go away; a SQLite file cannot, and its pool timing
    /// out means load, not an outage.
    outage: Option<Arc<Outage>>,
}

/// Opens `url` (`sqlite://PATH?mode=rwc`, `sqlite::memory:` or `postgres://…`) with at
/// most `max_connections` connections for reading (SQLite adds its one writer).
///
/// For a SQLite file the parent folder is created first, because SQLite creates the
/// file but not the folders above it.
pub async fn connect(url: &str, max_connections: u32) -> Result<Database, DbErr> {
    let max_connections = max_connections.max(1);
    if url.starts_with("postgres") {
        let pool = open(url, max_connections, None).await?;
        return Ok(Database::single(pool));
    }
    let Some(file) = sqlite_file_path(url) else {
        // Each connection to `:memory:` is its own database: one connection it is.
        let only = open(url, 1, Some(SqliteRole::Writer)).await?;
        return Ok(Database::single(only));
    };
    if let Some(folder) = Path::new(file)
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
    {
        std::fs::create_dir_all(folder).map_err(|error| {
            DbErr::Custom(format!(
                "cannot create the folder {} for the SQLite database: {error}",
                folder.display()
            ))
        })?;
    }
    // The writer first: it creates the file and switches it to WAL, which readers need.
    let writer = open(url, 1, Some(SqliteRole::Writer)).await?;
    let reader = open(url, max_connections, Some(SqliteRole::Reader)).await?;
    Ok(Database {
        writer,
        reader,
        outage: None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SqliteRole {
    Writer,
    Reader,
}

async fn open(
    url: &str,
    max_connections: u32,
    sqlite: Option<SqliteRole>,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .sqlx_logging(false);
    match sqlite {
        Some(role) => {
            // A connection to a file does not go stale; checking one before each
            // use was a round trip to its thread for every query.
            options
                .test_before_acquire(false)
                .map_sqlx_sqlite_opts(move |sqlite| sqlite_options(sqlite, role));
        }
        None => {
            // Only connections idle long enough to have been cut (a server restart,
            // a proxy's timeout) are checked, not every one before every query.
            options.test_before_acquire_if_idle_for(Duration::from_secs(30));
        }
    }
    sea_orm::Database::connect(options).await
}

/// Settings every SQLite connection gets as it opens: pragmas such as `foreign_keys`
/// and `busy_timeout` belong to a connection, not to the file.
fn sqlite_options(options: SqliteConnectOptions, role: SqliteRole) -> SqliteConnectOptions {
    let options = options
        .journal_mode(SqliteJournalMode::Wal)
        // Under WAL, NORMAL syncs at checkpoints instead of at every commit: a power
        // cut may lose the last commits but never corrupts the file.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    match role {
        SqliteRole::Writer => options,
        // A write sent here by mistake fails loudly instead of taking the lock.
        SqliteRole::Reader => options.pragma("query_only", "ON"),
    }
}

/// The file behind a `sqlite:` URL, or `None` for in-memory databases.
fn sqlite_file_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:" && !rest.contains("mode=memory")).then_some(path)
}

/// Whether a statement only reads, so that a reader may run it. Anything else, from a
/// `WITH … INSERT` to a `PRAGMA`, goes to the writer.
fn only_reads(sql: &str) -> bool {
    sql.trim_start()
        .get(..6)
        .is_some_and(|word| word.eq_ignore_ascii_case("select"))
}

impl Database {
    /// One pool for everything (PostgreSQL, in-memory SQLite).
    pub fn single(pool: DatabaseConnection) -> Self {
        let outage = (pool.get_database_backend() == DbBackend::Postgres)
            .then(|| Arc::new(Outage::default()));
        Self {
            reader: pool.clone(),
            writer: pool,
            outage,
        }
    }

    /// Runs `operation` unless the server is known to be unreachable (then fails at
    /// once), and learns from its result whether it is.
    async fn guarded<T>(
        &self,
        operation: impl Future<Output = Result<T, DbErr>>,
    ) -> Result<T, DbErr> {
        let Some(outage) = &self.outage else {
            return operation.await;
        };
        outage.admit()?;
        let result = operation.await;
        outage.observe(&result);
        result
    }

    /// The connection that writes, for tools that need a plain sea-orm connection
    /// (the migrator).
    pub fn writer(&self) -> &DatabaseConnection {
        &self.writer
    }

    pub fn backend(&self) -> DbBackend {
        self.writer.get_database_backend()
    }

    /// Whether the database answers a trivial query, for readiness checks.
    pub async fn is_reachable(&self) -> bool {
        self.guarded(self.reader.execute_unprepared("SELECT 1"))
            .await
            .is_ok()
    }

    /// Brings PostgreSQL's planner statistics up to date after a bulk load. Without
    /// it, PostgreSQL plans a table that grew from empty to thousands of rows as if
    /// it were empty until autovacuum gets to it (up to a minute): measured on
    /// `GET /reset`, it looked a contact up through the firm's e-mail index and read
    /// every contact of the firm, 0.6 ms instead of 0.03 ms. Only the tables of the
    /// schema in use, not of the whole database.
    ///
    /// SQLite is left without statistics, on purpose. With none, its planner takes
    /// every index as selective, which is true of every query here; statistics, once
    /// taken, are never refreshed by SQLite itself, and taken while a table was small
    /// they make it scan the table once it has grown. Measured: after `PRAGMA
    /// optimize` at start-up, the processor's `UPDATE … WHERE id IN (…)` scanned all
    /// 93,000 reset requests on every pass and forgot-password fell from 12,600 to
    /// 2,000 answers a second.
    pub async fn refresh_statistics(&self) -> Result<(), DbErr> {
        let backend = self.backend();
        if backend != DbBackend::Postgres {
            return Ok(());
        }
        let tables = self
            .writer
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT quote_ident(tablename) AS name FROM pg_tables \
                 WHERE schemaname = current_schema()",
            ))
            .await?
            .iter()
            .map(|row| row.try_get::<String>("", "name"))
            .collect::<Result<Vec<_>, _>>()?;
        if !tables.is_empty() {
            let statement = format!("ANALYZE {}", tables.join(", "));
            self.writer.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    /// Closes every connection, for every clone of this handle.
    pub async fn close(&self) -> Result<(), DbErr> {
        let same_pool = self.backend() == DbBackend::Postgres;
        self.writer.clone().close().await?;
        if !same_pool {
            self.reader.clone().close().await?;
        }
        Ok(())
    }

    fn for_statement(&self, sql: &str) -> &DatabaseConnection {
        if only_reads(sql) {
            &self.reader
        } else {
            &self.writer
        }
    }

    /// SQLite's writer takes the lock when the transaction begins, not at its first
    /// write, so a transaction never fails half-way because another process wrote.
    fn with_write_lock(&self, mut options: TransactionOptions) -> TransactionOptions {
        if self.backend() == DbBackend::Sqlite && options.sqlite_transaction_mode.is_none() {
            options.sqlite_transaction_mode = Some(SqliteTransactionMode::Immediate);
        }
        options
    }
}

/// Writes an integer `LIMIT ?` (and `OFFSET ?`) ending a SQLite statement into its
/// text. SQLite plans with the value bound to a LIMIT, so it marks the statement to
/// be prepared again whenever that parameter is bound, which sqlx does at every run:
/// every `.one()` paid a full parse and plan. Measured on `GET /reset`, re-preparing
/// was 40% of SQLite's time.
fn inline_paging(mut stmt: Statement) -> Statement {
    if stmt.db_backend != DbBackend::Sqlite {
        return stmt;
    }
    let Some(values) = stmt.values.as_mut() else {
        return stmt;
    };
    let count = values.0.len();
    let numbers = |n: usize| -> Option<Vec<i128>> {
        values
            .0
            .get(count.checked_sub(n)?..)?
            .iter()
            .map(integer_of)
            .collect()
    };
    let rewritten = if let Some(head) = stmt.sql.strip_suffix(" LIMIT ? OFFSET ?") {
        numbers(2).map(|n| (format!("{head} LIMIT {} OFFSET {}", n[0], n[1]), 2))
    } else if let Some(head) = stmt.sql.strip_suffix(" LIMIT ?") {
        numbers(1).map(|n| (format!("{head} LIMIT {}", n[0]), 1))
    } else {
        None
    };
    if let Some((sql, inlined)) = rewritten {
        stmt.sql = sql;
        values.0.truncate(count - inlined);
    }
    stmt
}

fn integer_of(value: &sea_orm::Value) -> Option<i128> {
    use sea_orm::Value;
    match value {
        Value::TinyInt(Some(n)) => Some(i128::from(*n)),
        Value::SmallInt(Some(n)) => Some(i128::from(*n)),
        Value::Int(Some(n)) => Some(i128::from(*n)),
        Value::BigInt(Some(n)) => Some(i128::from(*n)),
        Value::TinyUnsigned(Some(n)) => Some(i128::from(*n)),
        Value::SmallUnsigned(Some(n)) => Some(i128::from(*n)),
        Value::Unsigned(Some(n)) => Some(i128::from(*n)),
        Value::BigUnsigned(Some(n)) => Some(i128::from(*n)),
        _ => None,
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Database {
    fn get_database_backend(&self) -> DbBackend {
        self.backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.guarded(self.writer.execute_raw(inline_paging(stmt)))
            .await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.guarded(self.writer.execute_unprepared(sql)).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let stmt = inline_paging(stmt);
        let connection = self.for_statement(&stmt.sql);
        self.guarded(connection.query_one_raw(stmt)).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let stmt = inline_paging(stmt);
        let connection = self.for_statement(&stmt.sql);
        self.guarded(connection.query_all_raw(stmt)).await
    }

    fn support_returning(&self) -> bool {
        self.writer.support_returning()
    }
}

transaction_trait! {
impl for Database {
    async fn begin(&self) -> Result<Transaction, DbErr> {
        self.begin_with_options(TransactionOptions::default()).await
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<Transaction, DbErr> {
        self.begin_with_options(TransactionOptions {
            isolation_level,
            access_mode,
            sqlite_transaction_mode: None,
        })
        .await
    }

    async fn begin_with_options(&self, options: TransactionOptions) -> Result<Transaction, DbErr> {
        self.guarded(
            self.writer
                .begin_with_options(self.with_write_lock(options)),
        )
        .await
        .map(Transaction)
    }
}
}

/// A transaction of a [`Database`] (or a savepoint within one): sea-orm's, with the
/// same treatment of SQLite statements as the database's own.
#[derive(Debug)]
pub struct Transaction(DatabaseTransaction);

impl Transaction {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.0.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.0.rollback().await
    }

    /// Runs `callback`, then commits, or rolls back if it failed.
    async fn run<F, T, E>(self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(&'c Transaction) -> Work<'c, T, E> + Send,
        T: Send,
        E: Display + Debug + Send,
    {
        match callback(&self).await {
            Ok(value) => {
                self.commit().await.map_err(TransactionError::Connection)?;
                Ok(value)
            }
            Err(error) => {
                self.rollback()
                    .await
                    .map_err(TransactionError::Connection)?;
                Err(TransactionError::Transaction(error))
            }
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Transaction {
    fn get_database_backend(&self) -> DbBackend {
        self.0.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.0.execute_raw(inline_paging(stmt)).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.0.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.0.query_one_raw(inline_paging(stmt)).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.0.query_all_raw(inline_paging(stmt)).await
    }

    fn support_returning(&self) -> bool {
        self.0.support_returning()
    }
}

transaction_trait! {
impl for Transaction {
    /// A savepoint.
    async fn begin(&self) -> Result<Transaction, DbErr> {
        self.0.begin().await.map(Transaction)
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<Transaction, DbErr> {
        self.0
            .begin_with_config(isolation_level, access_mode)
            .await
            .map(Transaction)
    }

    async fn begin_with_options(&self, options: TransactionOptions) -> Result<Transaction, DbErr> {
        self.0.begin_with_options(options).await.map(Transaction)
    }
}
}

#[async_trait::async_trait]
impl TransactionSession for Transaction {
    async fn commit(self) -> Result<(), DbErr> {
        self.0.commit().await
    }

    async fn rollback(self) -> Result<(), DbErr> {
        self.0.rollback().await
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, Statement, Value, Values};

    use super::{inline_paging, only_reads, sqlite_file_path};

    #[test]
    fn integer_limits_and_offsets_are_written_into_sqlite_statements() {
        let paged = inline_paging(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT a FROM t WHERE b = ? LIMIT ? OFFSET ?",
            [Value::from("x"), Value::from(50_u64), Value::from(100_u64)],
        ));
        assert_eq!(paged.sql, "SELECT a FROM t WHERE b = ? LIMIT 50 OFFSET 100");
        assert_eq!(paged.values, Some(Values(vec![Value::from("x")])));
        let one = inline_paging(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT a FROM t WHERE id = ? LIMIT ?",
            [Value::from(7_i64), Value::from(1_u64)],
        ));
        assert_eq!(one.sql, "SELECT a FROM t WHERE id = ? LIMIT 1");
        assert_eq!(one.values, Some(Values(vec![Value::from(7_i64)])));
        // Anything else is left alone: a text "limit", PostgreSQL, no parameters.
        for unchanged in [
            Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT ? LIMIT ?",
                [Value::from("a"), Value::from("b")],
            ),
            Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT a FROM t LIMIT $1",
                [Value::from(1_u64)],
            ),
            Statement::from_string(DbBackend::Sqlite, "SELECT 1 LIMIT 1"),
        ] {
            assert_eq!(inline_paging(unchanged.clone()), unchanged);
        }
    }

    #[test]
    fn finds_the_file_behind_sqlite_urls() {
        assert_eq!(
            sqlite_file_path("sqlite://data/latchkey.db?mode=rwc"),
            Some("data/latchkey.db")
        );
        assert_eq!(
            sqlite_file_path("sqlite:///var/lib/l.db"),
            Some("/var/lib/l.db")
        );
        assert_eq!(sqlite_file_path("sqlite::memory:"), None);
        assert_eq!(sqlite_file_path("sqlite://x?mode=memory"), None);
        assert_eq!(sqlite_file_path("postgres://postgres@127.0.0.1/test"), None);
    }

    #[test]
    fn only_plain_selects_go_to_readers() {
        assert!(only_reads("SELECT \"id\" FROM \"contacts\""));
        assert!(only_reads("  select 1"));
        for sql in [
            "INSERT INTO t VALUES (1) RETURNING id",
            "UPDATE t SET a = 1 RETURNING a",
            "DELETE FROM t RETURNING id",
            "WITH x AS (DELETE FROM t RETURNING id) SELECT * FROM x",
            "PRAGMA journal_mode = WAL",
            "SELEC",
            "",
        ] {
            assert!(!only_reads(sql), "{sql}");
        }
    }
}
