//! What a run of real processes counted (`chaos`, `cluster`): each figure with the
//! bound it is held to, printed as a markdown table for the docs.

use std::fmt::Display;
use std::time::Duration;

/// Seconds, shown to a tenth.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub(crate) struct Seconds(pub(crate) f64);

impl From<Duration> for Seconds {
    fn from(duration: Duration) -> Self {
        Self(duration.as_secs_f64())
    }
}

impl Display for Seconds {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{:.1}", self.0)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Report {
    rows: Vec<Row>,
}

#[derive(Debug)]
struct Row {
    act: String,
    measure: String,
    counted: String,
    /// Empty for a figure that is only reported.
    wanted: String,
    holds: bool,
}

impl Report {
    /// A figure held to `wanted`; `holds` says whether it was.
    pub(crate) fn check(
        &mut self,
        act: &str,
        measure: &str,
        counted: impl Display,
        wanted: impl Display,
        holds: bool,
    ) {
        let counted = counted.to_string();
        let wanted = wanted.to_string();
        let verdict = if holds { "ok" } else { "FAILED" };
        println!("xtask: {act}: {measure}: {counted} (wanted {wanted}) {verdict}");
        self.rows.push(Row {
            act: act.to_owned(),
            measure: measure.to_owned(),
            counted,
            wanted,
            holds,
        });
    }

    /// `counted == wanted`.
    pub(crate) fn expect_eq<T: PartialEq + Display>(
        &mut self,
        act: &str,
        measure: &str,
        counted: T,
        wanted: T,
    ) {
        let holds = counted == wanted;
        self.check(act, measure, counted, wanted, holds);
    }

    /// `counted <= bound`.
    pub(crate) fn expect_at_most<T: PartialOrd + Display>(
        &mut self,
        act: &str,
        measure: &str,
        counted: T,
        bound: T,
    ) {
        let holds = counted <= bound;
        self.check(act, measure, counted, format!("≤ {bound}"), holds);
    }

    /// A figure reported without a bound.
    pub(crate) fn note(&mut self, act: &str, measure: &str, counted: impl Display) {
        let counted = counted.to_string();
        println!("xtask: {act}: {measure}: {counted}");
        self.rows.push(Row {
            act: act.to_owned(),
            measure: measure.to_owned(),
            counted,
            wanted: String::new(),
            holds: true,
        });
    }

    /// The act stopped early with `error`.
    pub(crate) fn failed(&mut self, act: &str, error: &str) {
        self.check(act, "the act ran to its end", error, "no error", false);
    }

    pub(crate) fn checks(&self) -> usize {
        self.rows
            .iter()
            .filter(|row| !row.wanted.is_empty())
            .count()
    }

    pub(crate) fn failures(&self) -> usize {
        self.rows.iter().filter(|row| !row.holds).count()
    }

    pub(crate) fn to_markdown(&self) -> String {
        let mut table =
            String::from("| act | measure | counted | wanted | |\n|---|---|---:|---:|---|\n");
        for row in &self.rows {
            let verdict = match (row.wanted.is_empty(), row.holds) {
                (true, _) => "",
                (false, true) => "ok",
                (false, false) => "**failed**",
            };
            table.push_str(&format!(
                "| {} | {} | {} | {} | {verdict} |\n",
                row.act,
                row.measure,
                row.counted.replace('|', "/").replace('\n', " "),
                row.wanted
            ));
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::Report;

    #[test]
    fn counts_checks_and_failures_and_prints_a_table() {
        let mut report = Report::default();
        report.expect_eq("a", "emails delivered", 1000, 1000);
        report.expect_at_most("a", "duplicates", 17, 16);
        report.note("a", "outage seconds", "12.0");
        assert_eq!(report.checks(), 2);
        assert_eq!(report.failures(), 1);
        let table = report.to_markdown();
        assert!(
            table.contains("| a | emails delivered | 1000 | 1000 | ok |"),
            "{table}"
        );
        assert!(
            table.contains("| a | duplicates | 17 | ≤ 16 | **failed** |"),
            "{table}"
        );
        assert!(
            table.contains("| a | outage seconds | 12.0 |  |  |"),
            "{table}"
        );
    }
}
