//! Reading tables out of SQLite files that are not Juru's (data shipped in model packs).

use sqlx::{Connection, Row};

use crate::error::{Result, StoreError};

fn identifier(what: &str, s: &str) -> Result<()> {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!("{what} {s:?} is not a plain SQL identifier")))
    }
}

/// Every row of `table`, with the given columns as text (NULL as `None`), from a SQLite file
/// opened read-only.
pub async fn read_sqlite_table(
    path: &std::path::Path,
    table: &str,
    columns: &[&str],
) -> Result<Vec<Vec<Option<String>>>> {
    identifier("table", table)?;
    for c in columns {
        identifier("column", c)?;
    }
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=ro", path.display());
    let mut conn = sqlx::AnyConnection::connect(&url).await?;
    let select = columns.iter().map(|c| format!("CAST({c} AS TEXT) AS {c}")).collect::<Vec<_>>().join(", ");
    let rows = sqlx::query(&format!("SELECT {select} FROM {table}")).fetch_all(&mut conn).await?;
    let out = rows
        .iter()
        .map(|r| columns.iter().map(|c| r.try_get::<Option<String>, _>(*c)).collect::<Result<Vec<_>, _>>())
        .collect::<Result<Vec<_>, _>>()?;
    conn.close().await?;
    Ok(out)
}
