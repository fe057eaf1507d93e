//! The chart of a benchmark report: each scenario's throughput as a share of its
//! ceiling, one bar per database, and a line on each bar where its target sits.

use std::path::Path;

use anyhow::Context;
use plotters::backend::BitMapBackend;
use plotters::chart::{ChartBuilder, SeriesLabelPosition};
use plotters::drawing::IntoDrawingArea;
use plotters::element::{PathElement, Rectangle, Text};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{BLACK, Color, IntoFont, RGBColor, WHITE};

use super::report::{BenchReport, DatabaseFigures, ScenarioFigures};

const WIDTH: u32 = 1400;
const BAR_PIXELS: u32 = 24;
const ROW_GAP_PIXELS: u32 = 14;
/// SQLite, PostgreSQL, then any other database.
const DATABASE_COLOURS: [RGBColor; 3] = [
    RGBColor(52, 120, 190),
    RGBColor(235, 130, 40),
    RGBColor(90, 160, 90),
];
const TARGET_COLOUR: RGBColor = RGBColor(190, 20, 30);
/// Of a row's height, the part its bars fill.
const BAND: f64 = 0.8;

/// One row of the chart: a scenario, with each database's bar.
struct Row {
    key: String,
    label: String,
}

/// The length of a scenario's bar: sign-ins against the hashing ceiling, the rest
/// against the HTTP ceiling.
fn bar_percent(figures: &ScenarioFigures) -> f64 {
    figures
        .percent_of_hashing_ceiling
        .unwrap_or(figures.percent_of_ceiling)
}

fn rows(report: &BenchReport) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for figures in report
        .databases
        .iter()
        .flat_map(DatabaseFigures::all_scenarios)
    {
        if rows.iter().any(|row| row.key == figures.key) {
            continue;
        }
        let label = if figures.percent_of_hashing_ceiling.is_some() {
            format!("{} (of hashing ceiling)", figures.name)
        } else {
            figures.name.clone()
        };
        rows.push(Row {
            key: figures.key.clone(),
            label,
        });
    }
    rows
}

pub(crate) fn render(report: &BenchReport, out: &Path) -> anyhow::Result<()> {
    if let Some(folder) = out.parent().filter(|folder| !folder.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
    }
    draw(report, out).map_err(|error| anyhow::anyhow!("cannot draw {}: {error}", out.display()))
}

fn draw(report: &BenchReport, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let rows = rows(report);
    let databases = report.databases.len().max(1);
    let row_count = u32::try_from(rows.len().max(1))?;
    let row_pixels = BAR_PIXELS * u32::try_from(databases)? + ROW_GAP_PIXELS;
    let height = 170 + row_count * row_pixels;
    let widest = report
        .databases
        .iter()
        .flat_map(DatabaseFigures::all_scenarios)
        .map(bar_percent)
        .fold(100.0_f64, f64::max);
    let x_end = (widest * 1.1 / 10.0).ceil() * 10.0;
    let y_end = f64::from(row_count);

    let root = BitMapBackend::new(out, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let caption = format!(
        "Latchkey: throughput as % of the ceiling (wrk -t2 -c32, {} s per scenario)",
        report.duration_seconds
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 26).into_font())
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(400)
        .build_cartesian_2d(0.0..x_end, 0.0..y_end)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc("% of the ceiling (GET /_bench/ceiling; POST /login: of the hashing ceiling)")
        .x_label_formatter(&|percent| format!("{percent:.0}%"))
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;

    let bar_height = BAND / databases as f64;
    // Row 0 at the top; `slot` is the database's place within the row.
    let bar_span = |row: usize, slot: usize| {
        let top = y_end - row as f64 - (1.0 - BAND) / 2.0 - slot as f64 * bar_height;
        (top - bar_height, top)
    };
    for (slot, database) in report.databases.iter().enumerate() {
        let colour = DATABASE_COLOURS[slot.min(DATABASE_COLOURS.len() - 1)];
        let mut bars = Vec::new();
        let mut values = Vec::new();
        for (row, scenario) in rows.iter().enumerate() {
            let Some(figures) = database
                .all_scenarios()
                .find(|figures| figures.key == scenario.key)
            else {
                continue;
            };
            let (bottom, top) = bar_span(row, slot);
            let length = bar_percent(figures);
            bars.push(Rectangle::new(
                [(0.0, bottom), (length, top)],
                colour.filled(),
            ));
            values.push(Text::new(
                format!("{length:.1}%"),
                (length, (bottom + top) / 2.0),
                ("sans-serif", 14)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ));
        }
        chart
            .draw_series(bars)?
            .label(database.database.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], colour.filled()));
        chart.draw_series(values)?;
    }

    let mut markers = Vec::new();
    for (slot, database) in report.databases.iter().enumerate() {
        for marker in database
            .targets
            .iter()
            .filter_map(|target| target.marker.as_ref())
        {
            let Some(row) = rows.iter().position(|row| row.key == marker.scenario) else {
                continue;
            };
            let (bottom, top) = bar_span(row, slot);
            markers.push(PathElement::new(
                vec![(marker.percent, bottom), (marker.percent, top)],
                TARGET_COLOUR.stroke_width(3),
            ));
        }
    }
    if !markers.is_empty() {
        chart
            .draw_series(markers)?
            .label("target")
            .legend(|(x, y)| {
                PathElement::new(
                    vec![(x + 8, y - 8), (x + 8, y + 8)],
                    TARGET_COLOUR.stroke_width(3),
                )
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()?;

    // The scenario names, drawn by hand so that each sits at its row's middle.
    for (row, scenario) in rows.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, y_end - row as f64 - 0.5));
        root.draw(&Text::new(
            scenario.label.clone(),
            (x - 10, y),
            ("sans-serif", 16)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
    }
    root.present()?;
    Ok(())
}
