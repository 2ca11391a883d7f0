//! The results table the harness prints, and latency distributions.

use std::fmt;

/// Rows of (scenario, figure, value, conditions), printed as a Markdown table so it can be
/// pasted into BENCHMARKS.md unchanged. Serialized (JSON), it carries a scenario's rows from
/// a harness process of its own to the one that prints the table.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Table {
    rows: Vec<[String; 4]>,
}

impl Table {
    pub fn row(
        &mut self,
        scenario: &str,
        figure: &str,
        value: impl Into<String>,
        conditions: impl Into<String>,
    ) {
        let value = value.into();
        tracing::info!(scenario, figure, value = %value, "measured");
        self.rows.push([
            scenario.to_owned(),
            figure.to_owned(),
            value,
            conditions.into(),
        ]);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Appends the rows of another table.
    pub fn extend(&mut self, other: Table) {
        self.rows.extend(other.rows);
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| scenario | figure | value | conditions |")?;
        writeln!(f, "|---|---|---|---|")?;
        for [a, b, c, d] in &self.rows {
            writeln!(f, "| {a} | {b} | {c} | {d} |")?;
        }
        Ok(())
    }
}

/// Sorted samples (milliseconds or any unit) with nearest-rank percentiles.
#[derive(Debug, Clone)]
pub struct Distribution {
    sorted: Vec<f64>,
}

impl Distribution {
    pub fn of(mut samples: Vec<f64>) -> Self {
        samples.sort_by(f64::total_cmp);
        Distribution { sorted: samples }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The `q` quantile (0..=1) by nearest rank; NaN when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.sorted.is_empty() {
            return f64::NAN;
        }
        let rank = (q * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    pub fn max(&self) -> f64 {
        self.sorted.last().copied().unwrap_or(f64::NAN)
    }

    /// "p50 / p99 / max" in milliseconds.
    pub fn millis(&self) -> String {
        format!(
            "{:.0} / {:.0} / {:.0} ms",
            self.quantile(0.5),
            self.quantile(0.99),
            self.max()
        )
    }

    /// "p50 / p99 / p99.9" in milliseconds, with one decimal.
    pub fn tail_millis(&self) -> String {
        format!(
            "{:.1} / {:.1} / {:.1} ms",
            self.quantile(0.5),
            self.quantile(0.99),
            self.quantile(0.999)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let d = Distribution::of((1..=1000).rev().map(f64::from).collect());
        assert_eq!(d.quantile(0.5), 500.0);
        assert_eq!(d.quantile(0.99), 990.0);
        assert_eq!(d.quantile(0.999), 999.0);
        assert_eq!(d.max(), 1000.0);
        assert!(Distribution::of(vec![]).quantile(0.5).is_nan());
    }

    #[test]
    fn a_table_comes_back_from_json_row_for_row() {
        let mut t = Table::default();
        t.row(
            "memory",
            "resident bytes per open window",
            "334 B",
            "1 change | µ −",
        );
        t.row("memory", "restore", "2.51 s", "");
        let back: Table = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.to_string(), t.to_string());
    }

    #[test]
    fn table_renders_markdown() {
        let mut t = Table::default();
        t.row("ingest", "requests/s", "1", "n=1");
        assert!(t.to_string().contains("| ingest | requests/s | 1 | n=1 |"));
    }
}
