//! `~/.armoriq/credentials.json`, version 2, read and written byte for byte
//! as `armoriq_sdk/credentials.py` does: `json.dumps(doc, indent=2,
//! ensure_ascii=False) + "\n"` with sorted profile and history names, the
//! directory 0700 and the file 0600, writes to a temp file renamed into place
//! under the `credentials.json.lock` protocol (token in the lock file, 5 s
//! timeout, a lock older than 30 s is stale), and the loginHistory validity
//! rule (a profile counts only when its history's last event has the same
//! `userId` and `at == loggedInAt`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

mod names;

use names::canonical_instant;
pub use names::{format_instant, normalize_product, now_instant, profile_name, url_origin};

const FILE_VERSION: i64 = 2;
const LOCK_RETRY: Duration = Duration::from_millis(50);
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);
const LOCK_STALE: Duration = Duration::from_secs(30);

/// What a login yields (`LoginProfile`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginProfile {
    /// The backend URL.
    pub backend: String,
    /// The product (`""` for the default).
    pub product: String,
    /// The API key.
    pub api_key: String,
    /// The user's email.
    pub email: String,
    /// The user id (required, non-blank).
    pub user_id: String,
    /// The organization id.
    pub org_id: String,
}

/// A stored profile (`Profile`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The login fields.
    pub login: LoginProfile,
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub logged_in_at: String,
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub saved_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Event {
    sequence: i64,
    at: String,
    user_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct History {
    id: String,
    origin: String,
    events: Vec<Event>,
}

/// The credentials file at one path.
#[derive(Clone, Debug)]
pub struct Credentials {
    path: PathBuf,
}

struct Context {
    active: Option<String>,
    profiles: BTreeMap<String, Profile>,
    histories: BTreeMap<String, History>,
    fresh: bool,
    unknown: BTreeSet<String>,
}

impl Credentials {
    /// `$HOME/.armoriq/credentials.json`.
    pub fn default_location() -> Self {
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        Self::at(home.join(".armoriq").join("credentials.json"))
    }

    /// The file at `path`.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn document(&self) -> serde_json::Map<String, serde_json::Value> {
        let Ok(text) = std::fs::read_to_string(&self.path) else {
            return Default::default();
        };
        match serde_json::from_str::<serde_json::Value>(&text) {
            // Python compares with `!=`, so `2.0` is version 2 too.
            Ok(serde_json::Value::Object(m))
                if m.get("version").and_then(serde_json::Value::as_f64)
                    == Some(FILE_VERSION as f64) =>
            {
                m
            }
            _ => Default::default(),
        }
    }

    fn read_context(&self) -> Context {
        let missing = !self.path.exists();
        let doc = self.document();
        let Some(raw) = doc.get("profiles").and_then(serde_json::Value::as_object) else {
            return Context {
                active: None,
                profiles: BTreeMap::new(),
                histories: BTreeMap::new(),
                fresh: missing,
                unknown: BTreeSet::new(),
            };
        };
        let mut parsed = BTreeMap::new();
        let mut unknown = BTreeSet::new();
        if let Some(h) = doc
            .get("loginHistory")
            .and_then(serde_json::Value::as_object)
        {
            for (name, value) in h {
                match parse_history(value) {
                    Some(h) => {
                        parsed.insert(name.clone(), h);
                    }
                    None => {
                        unknown.insert(name.clone());
                    }
                }
            }
        }
        let mut accepted = BTreeMap::new();
        for (name, value) in raw {
            let entry = parse_entry(name, value);
            if matches_history(entry.as_ref(), parsed.get(name)) {
                if let Some(e) = entry {
                    accepted.insert(name.clone(), e);
                }
            } else {
                unknown.insert(name.clone());
                parsed.remove(name);
            }
        }
        for name in &unknown {
            parsed.insert(
                name.clone(),
                History {
                    id: uuid::Uuid::new_v4().to_string(),
                    origin: "unknown".into(),
                    events: Vec::new(),
                },
            );
        }
        let active = doc
            .get("active")
            .and_then(serde_json::Value::as_str)
            .filter(|a| accepted.contains_key(*a))
            .map(str::to_owned);
        Context {
            active,
            profiles: accepted,
            histories: parsed,
            fresh: doc.get("historyOrigin").and_then(serde_json::Value::as_str) == Some("fresh"),
            unknown,
        }
    }

    /// Every stored profile name (valid or not) and the stored active name.
    fn stored(&self) -> (BTreeSet<String>, Option<String>) {
        let doc = self.document();
        let Some(raw) = doc.get("profiles").and_then(serde_json::Value::as_object) else {
            return (BTreeSet::new(), None);
        };
        let names: BTreeSet<String> = raw
            .iter()
            .filter(|(_, v)| v.is_object())
            .map(|(k, _)| k.clone())
            .collect();
        let active = doc
            .get("active")
            .and_then(serde_json::Value::as_str)
            .filter(|a| names.contains(*a))
            .map(str::to_owned);
        (names, active)
    }

    /// The valid profiles by name, and the active name.
    pub fn read(&self) -> (Option<String>, BTreeMap<String, Profile>) {
        let c = self.read_context();
        (c.active, c.profiles)
    }

    /// `load_profile(backend, product)`.
    pub fn load_profile(&self, backend: &str, product: &str) -> Option<Profile> {
        let origin = url_origin(backend)?;
        let wanted = normalize_product(product);
        let name = profile_name(&origin, &wanted)?;
        self.read()
            .1
            .remove(&name)
            .filter(|e| e.login.backend == origin && e.login.product == wanted)
    }

    /// `get_profile(name)`.
    pub fn get_profile(&self, name: &str) -> Option<Profile> {
        self.read().1.remove(name)
    }

    /// `active_profile()`.
    pub fn active_profile(&self) -> Option<Profile> {
        let (active, mut profiles) = self.read();
        active.and_then(|a| profiles.remove(&a))
    }

    /// `selected_profile_name(explicit)`: explicit, else `ARMORIQ_PROFILE`,
    /// else the stored active name.
    pub fn selected_profile_name(&self, explicit: Option<&str>) -> Option<String> {
        explicit
            .map(str::to_owned)
            .or_else(|| {
                std::env::var("ARMORIQ_PROFILE")
                    .ok()
                    .filter(|s| !s.is_empty())
            })
            .or_else(|| self.stored().1)
    }

    /// Every stored profile name, sorted.
    pub fn stored_profile_names(&self) -> Vec<String> {
        self.stored().0.into_iter().collect()
    }

    /// `save_login_profile`: stores the profile with a new login event and
    /// makes it active. Returns its name.
    ///
    /// # Errors
    /// A blank user id, a backend that is not an http(s) URL, the lock or I/O.
    pub fn save_login_profile(&self, entry: &LoginProfile) -> Result<String, String> {
        let name = profile_name(&entry.backend, &entry.product)
            .ok_or_else(|| format!("{:?} is not an http or https URL", entry.backend))?;
        if entry.user_id.trim().is_empty() {
            return Err(
                "Login response is missing the authenticated user ID. Sign in again.".into(),
            );
        }
        let n = name.clone();
        self.update(move |c| {
            let fresh_origin = c.fresh && !c.unknown.contains(&n);
            let history = c.histories.entry(n.clone()).or_insert_with(|| History {
                id: uuid::Uuid::new_v4().to_string(),
                origin: if fresh_origin { "fresh" } else { "unknown" }.into(),
                events: Vec::new(),
            });
            let at = append_event(history, Some(entry.user_id.clone()));
            let mut login = entry.clone();
            login.backend = url_origin(&entry.backend).unwrap_or_default();
            login.product = normalize_product(&entry.product);
            c.profiles.insert(
                n.clone(),
                Profile {
                    login,
                    logged_in_at: at.clone(),
                    saved_at: at,
                },
            );
            Some(n.clone())
        })?;
        Ok(name)
    }

    /// `remove_profile(name)`: drops the profile, recording a logout event.
    /// False when no profile of that name is stored.
    ///
    /// # Errors
    /// The lock or I/O.
    pub fn remove_profile(&self, name: &str) -> Result<bool, String> {
        if !self.stored().0.contains(name) {
            return Ok(false);
        }
        self.update(|c| {
            if c.profiles.remove(name).is_some()
                && let Some(h) = c.histories.get_mut(name)
            {
                append_event(h, None);
            }
            c.active.take().filter(|a| a != name)
        })?;
        Ok(true)
    }

    fn update(&self, mut change: impl FnMut(&mut Context) -> Option<String>) -> Result<(), String> {
        loop {
            let lock = self.lock()?;
            let mut c = self.read_context();
            let active = change(&mut c);
            let r = self.write(active, &c, &lock);
            lock.release();
            match r {
                Ok(()) => return Ok(()),
                Err(WriteError::LockLost) => continue,
                Err(WriteError::Io(e)) => return Err(e),
            }
        }
    }

    fn lock(&self) -> Result<Lock, String> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        ensure_dir(dir)?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "credentials.json".into());
        let lock = dir.join(format!("{name}.lock"));
        let token = uuid::Uuid::new_v4().simple().to_string();
        let deadline = Instant::now() + LOCK_TIMEOUT;
        loop {
            match create_new(&lock) {
                Ok(mut f) => {
                    let w = f.write_all(token.as_bytes()).and_then(|()| f.sync_all());
                    if let Err(e) = w {
                        let _ = std::fs::remove_file(&lock);
                        return Err(format!("cannot write {}: {e}", lock.display()));
                    }
                    return Ok(Lock { path: lock, token });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(&lock)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .is_some_and(|age| age > LOCK_STALE);
                    if stale {
                        let _ = std::fs::remove_file(&lock);
                    }
                }
                Err(e) => return Err(format!("cannot create {}: {e}", lock.display())),
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} is held by another armoriq process. Try again; if no armoriq command is running, remove that file.",
                    lock.display()
                ));
            }
            std::thread::sleep(LOCK_RETRY);
        }
    }

    fn write(&self, active: Option<String>, c: &Context, lock: &Lock) -> Result<(), WriteError> {
        let data = render(active.as_deref(), c);
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let suffix: String = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let temp = dir.join(format!("{name}.{suffix}.tmp"));
        let io =
            |e: std::io::Error| WriteError::Io(format!("cannot write {}: {e}", temp.display()));
        let r = (|| {
            let mut f = create_new(&temp).map_err(io)?;
            f.write_all(data.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
            drop(f);
            if !lock.holds() {
                return Err(WriteError::LockLost);
            }
            std::fs::rename(&temp, &self.path).map_err(io)
        })();
        if r.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        r
    }
}

enum WriteError {
    LockLost,
    Io(String),
}

struct Lock {
    path: PathBuf,
    token: String,
}

impl Lock {
    fn holds(&self) -> bool {
        std::fs::read_to_string(&self.path).is_ok_and(|t| t == self.token)
    }
    fn release(&self) {
        if self.holds() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn ensure_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn create_new(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

fn append_event(h: &mut History, user_id: Option<String>) -> String {
    let at = now_instant();
    h.events.push(Event {
        sequence: h.events.len() as i64 + 1,
        at: at.clone(),
        user_id,
    });
    at
}

/// `json.dumps(doc, indent=2, ensure_ascii=False) + "\n"`.
fn render(active: Option<&str>, c: &Context) -> String {
    let s = |v: &str| crate::plan::json_str(v);
    let mut o = String::from("{\n  \"version\": 2,\n  \"active\": ");
    o.push_str(&active.map_or("null".into(), s));
    o.push_str(",\n  \"profiles\": ");
    if c.profiles.is_empty() {
        o.push_str("{}");
    } else {
        o.push_str("{\n");
        let n = c.profiles.len();
        for (i, (name, p)) in c.profiles.iter().enumerate() {
            let l = &p.login;
            o.push_str(&format!("    {}: {{\n", s(name)));
            let fields = [
                ("backend", &l.backend),
                ("product", &l.product),
                ("apiKey", &l.api_key),
                ("email", &l.email),
                ("userId", &l.user_id),
                ("orgId", &l.org_id),
                ("loggedInAt", &p.logged_in_at),
                ("savedAt", &p.saved_at),
            ];
            for (j, (k, v)) in fields.iter().enumerate() {
                o.push_str(&format!("      \"{k}\": {}", s(v)));
                o.push_str(if j + 1 < fields.len() { ",\n" } else { "\n" });
            }
            o.push_str(if i + 1 < n { "    },\n" } else { "    }\n" });
        }
        o.push_str("  }");
    }
    o.push_str(",\n  \"historyOrigin\": ");
    o.push_str(if c.fresh { "\"fresh\"" } else { "\"unknown\"" });
    o.push_str(",\n  \"loginHistory\": ");
    if c.histories.is_empty() {
        o.push_str("{}");
    } else {
        o.push_str("{\n");
        let n = c.histories.len();
        for (i, (name, h)) in c.histories.iter().enumerate() {
            o.push_str(&format!(
                "    {}: {{\n      \"id\": {},\n      \"origin\": {},\n      \"events\": ",
                s(name),
                s(&h.id),
                s(&h.origin)
            ));
            if h.events.is_empty() {
                o.push_str("[]\n");
            } else {
                o.push_str("[\n");
                for (j, e) in h.events.iter().enumerate() {
                    o.push_str(&format!(
                        "        {{\n          \"sequence\": {},\n          \"at\": {},\n          \"userId\": {}\n        }}",
                        e.sequence,
                        s(&e.at),
                        e.user_id.as_deref().map_or("null".into(), s)
                    ));
                    o.push_str(if j + 1 < h.events.len() { ",\n" } else { "\n" });
                }
                o.push_str("      ]\n");
            }
            o.push_str(if i + 1 < n { "    },\n" } else { "    }\n" });
        }
        o.push_str("  }");
    }
    o.push_str("\n}\n");
    o
}

fn parse_entry(name: &str, raw: &serde_json::Value) -> Option<Profile> {
    let f = |k: &str| {
        raw.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let p = Profile {
        login: LoginProfile {
            backend: f("backend")?,
            product: f("product")?,
            api_key: f("apiKey")?,
            email: f("email")?,
            user_id: f("userId")?,
            org_id: f("orgId")?,
        },
        logged_in_at: f("loggedInAt")?,
        saved_at: f("savedAt")?,
    };
    let origin = url_origin(&p.login.backend)?;
    if profile_name(&origin, &p.login.product)? != name {
        return None;
    }
    let mut p = p;
    p.login.backend = origin;
    p.login.product = normalize_product(&p.login.product);
    Some(p)
}

fn is_uuid4(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 36 {
        return false;
    }
    let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    b.iter().enumerate().all(|(i, &c)| match i {
        8 | 13 | 18 | 23 => c == b'-',
        14 => c == b'4',
        19 => matches!(c, b'8' | b'9' | b'a' | b'b'),
        _ => hex(c),
    })
}

fn parse_history(raw: &serde_json::Value) -> Option<History> {
    let id = raw.get("id")?.as_str()?;
    if !is_uuid4(id) {
        return None;
    }
    let origin = raw.get("origin")?.as_str()?;
    let events = raw.get("events")?.as_array()?;
    if !matches!(origin, "fresh" | "unknown") || (events.is_empty() && origin != "unknown") {
        return None;
    }
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let seq = e.get("sequence")?;
        if !(seq.is_i64() || seq.is_u64()) || seq.as_i64()? != i as i64 + 1 {
            return None;
        }
        let at = e.get("at")?.as_str()?;
        if !canonical_instant(at) {
            return None;
        }
        let user = match e.get("userId")? {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            _ => return None,
        };
        out.push(Event {
            sequence: i as i64 + 1,
            at: at.to_owned(),
            user_id: user,
        });
    }
    if out.first().is_some_and(|e| e.user_id.is_none()) {
        return None;
    }
    Some(History {
        id: id.to_owned(),
        origin: origin.to_owned(),
        events: out,
    })
}

fn matches_history(entry: Option<&Profile>, history: Option<&History>) -> bool {
    let (Some(e), Some(last)) = (entry, history.and_then(|h| h.events.last())) else {
        return false;
    };
    !e.login.user_id.trim().is_empty()
        && canonical_instant(&e.logged_in_at)
        && last.user_id.as_deref() == Some(e.login.user_id.as_str())
        && last.at == e.logged_in_at
}

#[cfg(test)]
mod tests;
