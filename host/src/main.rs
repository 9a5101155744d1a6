//! The `eddy` command.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use eddy::app::StopFlag;
use eddy::cli::admin_client::Client;
use eddy::cli::{demo, generate, new_plugin, run_plugin, validate};
use eddy_engine::config::{Config, LogConfig, LogFormat, OtelConfig};
use eddy_engine::generator::{GeneratorConfig, KeyDistribution};
use eddy_engine::stats::Stats;

/// Eddy: windowed stream processing with sandboxed WebAssembly plugins.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Exits 0 when `GET URL` answers 2xx (the container health check; no curl in the image).
    Probe {
        /// What to ask, e.g. `http://127.0.0.1:9090/health/live`.
        #[arg(long)]
        url: String,
    },
    /// Runs the pipeline a config file describes.
    Run {
        /// YAML config; `EDDY_*` environment variables override its keys.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Checks a config file and exits non-zero with a message naming the bad key.
    Validate {
        /// YAML config.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Runs the demo pipeline (examples/demo.yaml) on an embedded Kafka cluster fed with
    /// generated events, printing results as they are produced: no services needed.
    Demo {
        /// The demo config.
        #[arg(long, short, default_value = "examples/demo.yaml")]
        config: PathBuf,
        /// Number of events to generate.
        #[arg(long, default_value_t = 200_000)]
        events: u64,
        /// Number of keys.
        #[arg(long, default_value_t = 5)]
        keys: u32,
    },
    /// Works with plugins.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Writes generated sample events as JSON lines to standard output.
    Generate {
        /// Number of events.
        #[arg(long, default_value_t = 10_000)]
        events: u64,
        /// Number of keys.
        #[arg(long, default_value_t = 10)]
        keys: u32,
        /// Seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Largest out-of-orderness, ms.
        #[arg(long, default_value_t = 500)]
        max_disorder_ms: i64,
        /// Draw keys from a Zipf distribution with this exponent instead of uniformly.
        #[arg(long)]
        zipf: Option<f64>,
        /// Extra bytes of padding per event.
        #[arg(long, default_value_t = 0)]
        payload_bytes: usize,
        /// Produce to this Kafka topic instead of writing to standard output.
        #[arg(long, requires = "brokers")]
        topic: Option<String>,
        /// Bootstrap servers for `--topic`.
        #[arg(long)]
        brokers: Option<String>,
        /// Produce Avro records in the schema registry wire format, their schema registered
        /// under `<topic>-value` in the registry at this URL (its Confluent-compatible API).
        #[arg(long, requires = "topic")]
        schema_registry: Option<String>,
    },
}

/// Where the admin API is.
#[derive(clap::Args)]
struct Admin {
    /// Base URL of a running host's HTTP endpoint (`http.listen`).
    #[arg(long, default_value = "http://127.0.0.1:9090")]
    url: String,
    /// Bearer token for changes: the host's `admin.token` (the same environment variable).
    #[arg(long, env = "EDDY_ADMIN__TOKEN", hide_env_values = true)]
    token: Option<String>,
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Lists the plugin versions in a running host's registry, and what each stage runs.
    List {
        #[command(flatten)]
        admin: Admin,
    },
    /// Uploads a component to a running host's registry (validated there).
    Push {
        /// The component (`.wasm`).
        file: PathBuf,
        #[command(flatten)]
        admin: Admin,
    },
    /// Makes a stage (`aggregates.<name>` or `transforms.<index>`) run a registry version; it
    /// takes effect at the host's next checkpoint barrier.
    Activate {
        /// The stage.
        stage: String,
        /// The version's digest (from `push` or `list`).
        digest: String,
        /// The plugin's configuration for this activation, a JSON object (default: the
        /// stage keeps its configuration).
        #[arg(long)]
        config: Option<String>,
        #[command(flatten)]
        admin: Admin,
    },
    /// Makes a plugin crate on the SDK that builds and passes its tests as generated.
    New {
        /// Crate and plugin name (lowercase letters, digits, -).
        name: String,
        /// What the plugin is.
        #[arg(long, value_enum)]
        kind: new_plugin::Kind,
        /// What it is written in.
        #[arg(long, value_enum, default_value = "rust")]
        lang: new_plugin::Lang,
        /// Where to make it.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// For Rust: the `eddy-sdk` crate to depend on (default: a copy of the SDK this
        /// binary was built with, written into the project's `eddy-sdk/`).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Makes a stage go back to the version it ran before its last activation.
    Rollback {
        /// The stage.
        stage: String,
        #[command(flatten)]
        admin: Admin,
    },
    /// Runs a registry version beside an aggregate stage's live one on the same events (a
    /// shadow run): its results are compared with the live ones window by window and never
    /// written; `eddy plugin list` shows the comparison. Starts at the next checkpoint barrier.
    Shadow {
        /// The stage (`aggregates.<name>`).
        stage: String,
        /// The candidate's digest (from `push` or `list`).
        digest: String,
        /// The candidate's configuration, a JSON object (default: the stage's).
        #[arg(long)]
        config: Option<String>,
        #[command(flatten)]
        admin: Admin,
    },
    /// Activates the version a stage's shadow run runs (at the next checkpoint barrier, as
    /// `activate` does) and ends the shadow run.
    Promote {
        /// The stage.
        stage: String,
        #[command(flatten)]
        admin: Admin,
    },
    /// Ends a stage's shadow run.
    StopShadow {
        /// The stage.
        stage: String,
        #[command(flatten)]
        admin: Admin,
    },
    /// Runs a plugin offline over JSON lines and prints what it produces: output events for a
    /// map or filter; per-key results of tumbling windows for an aggregator.
    Test {
        /// The component (`.wasm`).
        plugin: PathBuf,
        /// JSON lines with `key` and `ts` (epoch ms) fields.
        #[arg(long)]
        input: PathBuf,
        /// The plugin's configuration (JSON).
        #[arg(long, default_value = "{}")]
        config: String,
        /// For aggregators: JSON pointer of the field aggregated.
        #[arg(long)]
        field: Option<String>,
        /// For aggregators: tumbling window size.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        window: std::time::Duration,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = command_config(&cli.command).and_then(|path| Config::load(path).ok());
    let log = config.as_ref().map(|c| c.log.clone()).unwrap_or_default();
    let otel = config.map(|c| c.otel).unwrap_or_default();
    if let Err(error) = init_logging(&log, &otel) {
        eprintln!("eddy: {error}");
        return ExitCode::FAILURE;
    }
    let result = run(cli);
    eddy::telemetry::shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("eddy: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to standard error in `log.format`, filtered by `EDDY_LOG`, else `log.filter`, else
/// `info`; exports spans when `otel.endpoint` is set.
fn init_logging(log: &LogConfig, otel: &OtelConfig) -> Result<(), eddy::telemetry::TelemetryError> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("EDDY_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(log.filter.as_deref().unwrap_or("info"))
    });
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = match log.format {
        LogFormat::Human => lines.with_filter(filter).boxed(),
        LogFormat::Json => lines
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(lines)
        .with(eddy::telemetry::layer(otel)?)
        .init();
    Ok(())
}

/// The config the command runs, if it takes one (logging follows its `log` section).
fn command_config(command: &Command) -> Option<&std::path::Path> {
    match command {
        Command::Run { config } | Command::Demo { config, .. } => Some(config),
        _ => None,
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run { config } => run_pipeline(&config),
        Command::Probe { url } => probe(&url),
        Command::Validate { config } => validate(&config),
        Command::Demo {
            config,
            events,
            keys,
        } => run_demo(&config, events, keys),
        Command::Plugin { command } => plugin(command),
        Command::Generate {
            events,
            keys,
            seed,
            max_disorder_ms,
            zipf,
            payload_bytes,
            topic,
            brokers,
            schema_registry,
        } => {
            let config = GeneratorConfig {
                events,
                keys,
                seed,
                max_disorder_ms,
                key_distribution: zipf.map_or(KeyDistribution::Uniform, |exponent| {
                    KeyDistribution::Zipf { exponent }
                }),
                payload_bytes,
                ..GeneratorConfig::default()
            };
            let target = match (
                topic.as_deref(),
                brokers.as_deref(),
                schema_registry.as_deref(),
            ) {
                (Some(topic), Some(brokers), Some(url)) => {
                    generate::Target::KafkaAvro(topic, brokers, url)
                }
                (Some(topic), Some(brokers), None) => generate::Target::Kafka(topic, brokers),
                _ => generate::Target::Lines,
            };
            generate::run(config, target, &mut std::io::stdout().lock())?;
            Ok(())
        }
    }
}

/// `eddy run`: the pipeline until its source ends or a signal stops it.
fn run_pipeline(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    report(eddy::app::run(&config, &StopFlag::on_signals()?)?);
    Ok(())
}

/// `eddy probe`: exits 0 when the URL answers 2xx.
fn probe(url: &str) -> anyhow::Result<()> {
    Client::new("", None).get(url)?;
    Ok(())
}

/// `eddy validate`: loads a config and checks everything `eddy run` would refuse.
fn validate(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let problems = validate::check(&config);
    if let Some(first) = problems.first() {
        for problem in &problems[1..] {
            eprintln!("eddy: {problem}");
        }
        return Err(first.clone().into());
    }
    println!("{}: ok", path.display());
    Ok(())
}

/// `eddy demo`: the demo pipeline on an embedded cluster fed with generated events.
fn run_demo(path: &Path, events: u64, keys: u32) -> anyhow::Result<()> {
    let config = Config::load(path).context("loading the demo config")?;
    let generator = GeneratorConfig {
        events,
        keys,
        max_disorder_ms: 500,
        late_every: 50_000,
        ..GeneratorConfig::default()
    };
    generator
        .validate()
        .map_err(|(key, message)| anyhow::anyhow!("{key}: {message}"))?;
    let stop = StopFlag::on_signals()?;
    let stats = demo::run(
        &config,
        generator,
        &stop,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )?;
    report(stats);
    Ok(())
}

/// `eddy plugin ...`.
fn plugin(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::List { admin } => {
            let client = Client::new(&admin.url, admin.token);
            println!("{}", client.get("/v1/plugins")?);
            println!("{}", client.get("/v1/pipelines")?);
        }
        PluginCommand::New {
            name,
            kind,
            lang,
            dir,
            sdk,
        } => {
            let request = new_plugin::Request {
                name: &name,
                kind,
                lang,
                sdk: sdk.as_deref(),
            };
            let root = new_plugin::create(&request, &dir)?;
            println!("{}", root.display());
        }
        PluginCommand::Push { file, admin } => {
            println!("{}", Client::new(&admin.url, admin.token).push(&file)?);
        }
        PluginCommand::Activate {
            stage,
            digest,
            config,
            admin,
        } => {
            let config = config
                .map(|text| serde_json::from_str::<serde_json::Value>(&text))
                .transpose()
                .context("--config must be JSON")?;
            println!(
                "{}",
                Client::new(&admin.url, admin.token).activate(&stage, &digest, config)?
            );
        }
        PluginCommand::Rollback { stage, admin } => {
            println!("{}", Client::new(&admin.url, admin.token).rollback(&stage)?);
        }
        PluginCommand::Shadow {
            stage,
            digest,
            config,
            admin,
        } => {
            let config = config
                .map(|text| serde_json::from_str::<serde_json::Value>(&text))
                .transpose()
                .context("--config must be JSON")?;
            let client = Client::new(&admin.url, admin.token);
            println!("{}", client.shadow(&stage, &digest, config)?);
        }
        PluginCommand::Promote { stage, admin } => {
            let client = Client::new(&admin.url, admin.token);
            println!("{}", client.promote(&stage)?);
        }
        PluginCommand::StopShadow { stage, admin } => {
            let client = Client::new(&admin.url, admin.token);
            println!("{}", client.stop_shadow(&stage)?);
        }
        PluginCommand::Test {
            plugin,
            input,
            config,
            field,
            window,
        } => {
            let test = run_plugin::PluginTest {
                config: serde_json::from_str(&config).context("--config is not JSON")?,
                field,
                window,
            };
            run_plugin::run(&plugin, &input, &test, &mut std::io::stdout().lock())?;
        }
    }
    Ok(())
}

fn report(stats: Stats) {
    tracing::info!(
        records_in = stats.records_in,
        blank_lines = stats.blank_lines,
        events = stats.events,
        results = stats.results,
        late = stats.late,
        dead_letters = stats.dead_letters,
        filtered = stats.filtered,
        "pipeline finished"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fenced `language` blocks of the README and the guides in `docs/`: where each line
    /// is (`file:line`) and the line.
    fn guide_blocks(language: &str) -> Vec<Vec<(String, String)>> {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = vec![repo.join("README.md")];
        let docs = std::fs::read_dir(repo.join("docs")).expect("docs/");
        files.extend(docs.filter_map(|e| e.ok().map(|e| e.path())));
        files.retain(|p| p.extension().is_some_and(|e| e == "md"));
        let fence = format!("```{language}");
        let mut blocks = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("guide");
            let mut open: Option<Vec<(String, String)>> = None;
            for (number, line) in text.lines().enumerate() {
                let trimmed = line.trim();
                match &mut open {
                    None if trimmed == fence => open = Some(Vec::new()),
                    Some(_) if trimmed == "```" => blocks.extend(open.take()),
                    Some(lines) => {
                        let place = format!("{}:{}", file.display(), number + 1);
                        lines.push((place, line.to_string()));
                    }
                    None => {}
                }
            }
        }
        blocks
    }

    #[test]
    fn every_eddy_command_in_the_guides_parses() {
        let mut checked = 0;
        let mut commands: Vec<(String, String)> = Vec::new();
        let mut continued = false;
        for (place, line) in guide_blocks("sh").into_iter().flatten() {
            // A line ending in `\` goes on in the next one.
            match commands.last_mut() {
                Some((_, command)) if continued => command.push_str(line.trim()),
                _ => commands.push((place, line.trim().to_string())),
            }
            continued = line.trim_end().ends_with('\\');
            if let Some((_, command)) = commands.last_mut().filter(|_| continued) {
                command.pop();
                command.push(' ');
            }
        }
        for (place, line) in commands {
            if !line.starts_with("eddy ") {
                continue;
            }
            // The command up to a comment, a redirection or a pipe.
            let words: Vec<String> = shlex::split(&line)
                .unwrap_or_else(|| panic!("{place}: `{line}` is not shell words"))
                .into_iter()
                .take_while(|w| !w.starts_with('#') && !matches!(w.as_str(), ">" | "|" | "&&"))
                .collect();
            if let Err(error) = Cli::try_parse_from(&words) {
                let shown = matches!(
                    error.kind(),
                    clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
                );
                assert!(shown, "{place}: `{}`: {error}", words.join(" "));
            }
            checked += 1;
        }
        assert!(checked >= 10, "only {checked} commands found");
    }

    /// A guide that shows a key the config types do not have, or a value they refuse, fails.
    #[test]
    fn every_yaml_block_of_the_guides_is_a_valid_config() {
        let mut checked = 0;
        let mut failures = Vec::new();
        for block in guide_blocks("yaml") {
            let place = block.first().map(|(place, _)| place.clone());
            let yaml: String = block.iter().map(|(_, line)| format!("{line}\n")).collect();
            if let Err(error) = Config::from_yaml(&yaml) {
                failures.push(format!("{}: {error}", place.unwrap_or_default()));
            }
            checked += 1;
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(checked >= 5, "only {checked} YAML blocks found");
    }
}
