//! Who scripts and hooks run as, and whether a command is safe to run at all.
//!
//! Owns two decisions: resolving `script_user` to a `RunAs` (uid, gid, supplementary
//! groups, home), and refusing an executable that anyone but root or that user could
//! replace: the file itself, or any directory on the way to it from `/` (following
//! symlinks, so both the link's directories and the target's are checked). A user who
//! can write any of those can make floatip run their code. keepalived has this check as
//! an opt-in (`enable_script_security`); here it is always on.
//!
//! Called at `check` and at start (config validation); it reads file metadata only and
//! must not run anything. Running is `exec`'s business.

use std::ffi::{CString, OsStr};
use std::fs::{self, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use nix::unistd::{Gid, Group, Uid, User, getgrouplist};

/// The package's system user, who runs scripts unless `script_user` says otherwise.
pub const DEFAULT_SCRIPT_USER: &str = "floatip";
/// Used (with a warning) when `DEFAULT_SCRIPT_USER` does not exist, e.g. when running
/// from a source build without the package.
pub const FALLBACK_SCRIPT_USER: &str = "nobody";

/// Symlinks followed before giving up (the kernel's limit, `MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// The unprivileged user scripts and hooks run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    pub home: PathBuf,
}

/// Resolves `script_user` (`None`: the default) to the user to run scripts as.
///
/// `None` means `DEFAULT_SCRIPT_USER`, or `FALLBACK_SCRIPT_USER` when the package's user
/// does not exist; the second element is then a warning for the log. A named user must
/// exist.
pub fn resolve_user(name: Option<&str>) -> Result<(RunAs, Option<String>), String> {
    if let Some(name) = name {
        return match lookup(name)? {
            Some(run_as) => Ok((run_as, None)),
            None => Err(format!(
                "script_user {name:?}: no such user; create it (useradd --system \
                 --no-create-home {name}) or name an existing unprivileged user"
            )),
        };
    }
    if let Some(run_as) = lookup(DEFAULT_SCRIPT_USER)? {
        return Ok((run_as, None));
    }
    match lookup(FALLBACK_SCRIPT_USER)? {
        Some(run_as) => Ok((
            run_as,
            Some(format!(
                "user {DEFAULT_SCRIPT_USER:?} does not exist (the floatip package creates \
                 it), so scripts and hooks run as {FALLBACK_SCRIPT_USER:?}; set \
                 global.script_user to choose the user"
            )),
        )),
        None => Err(format!(
            "neither {DEFAULT_SCRIPT_USER:?} nor {FALLBACK_SCRIPT_USER:?} exists; create \
             one (useradd --system --no-create-home {DEFAULT_SCRIPT_USER}) or set \
             global.script_user"
        )),
    }
}

fn lookup(name: &str) -> Result<Option<RunAs>, String> {
    let user = match User::from_name(name) {
        Ok(Some(user)) => user,
        Ok(None) => return Ok(None),
        Err(e) => return Err(format!("cannot look up user {name:?}: {e}")),
    };
    let c_name = CString::new(name).map_err(|_| format!("user name {name:?} contains NUL"))?;
    let groups = getgrouplist(&c_name, user.gid)
        .map_err(|e| format!("cannot list the groups of user {name:?}: {e}"))?;
    Ok(Some(RunAs {
        user: user.name,
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups: groups.into_iter().map(Gid::as_raw).collect(),
        home: user.dir,
    }))
}

/// Refuses a command that `run_as` could not execute, or that anyone but root or
/// `run_as` could replace (the file, or any directory on the way to it, symlinks
/// followed). The error says what is wrong and how to fix it.
pub fn check_executable(path: &Path, run_as: &RunAs) -> Result<(), String> {
    let shown = path.display();
    if !path.is_absolute() {
        return Err(format!(
            "{shown}: not an absolute path; write the full path (commands are run \
             without a shell and without searching PATH)"
        ));
    }
    let checker = Checker {
        given: path,
        run_as,
    };
    let real = checker.walk()?;
    let meta = checker.stat(&real)?;
    checker.check_file(&real, &meta)
}

/// Refuses a file a command is given as an argument (`/bin/sh /opt/check.sh`,
/// `/usr/bin/python3 /srv/check.py`) that anyone but root or `run_as` could modify: the
/// interpreter would run whatever they put there. Paths that are not existing regular
/// files are not code and pass.
pub fn check_argument(path: &Path, run_as: &RunAs) -> Result<(), String> {
    if !path.is_absolute() || !path.is_file() {
        return Ok(());
    }
    let checker = Checker {
        given: path,
        run_as,
    };
    let real = checker.walk()?;
    let meta = checker.stat(&real)?;
    checker.check_owner(&real, &meta, "file")?;
    checker.check_not_writable(&real, &meta)
}

struct Checker<'a> {
    given: &'a Path,
    run_as: &'a RunAs,
}

/// What a directory lets others do with its entries.
#[derive(Clone, Copy)]
struct DirSafety {
    /// Others may create entries (sticky and world- or group-writable, like /tmp):
    /// existing entries are safe only if owned by root or `run_as`.
    shared_sticky: bool,
}

impl Checker<'_> {
    /// Prefix for an error about `path`: the command as given, and the offending path
    /// when it is another one.
    fn about(&self, path: &Path) -> String {
        self.about_as(path, "")
    }

    /// Like `about`, naming what the other path is (`directory /opt/x`).
    fn about_as(&self, path: &Path, noun: &str) -> String {
        if path == self.given {
            format!("{}:", self.given.display())
        } else if noun.is_empty() {
            format!("{}: {}", self.given.display(), path.display())
        } else {
            format!("{}: {noun} {}", self.given.display(), path.display())
        }
    }

    fn stat(&self, path: &Path) -> Result<Metadata, String> {
        fs::symlink_metadata(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                format!("{} does not exist", self.about(path))
            } else {
                format!("{} cannot be examined: {e}", self.about(path))
            }
        })
    }

    /// Walks from `/` to the command, following symlinks, checking every directory
    /// passed through. Returns the real path of the command (no symlinks in it).
    fn walk(&self) -> Result<PathBuf, String> {
        let root = PathBuf::from("/");
        let root_meta = self.stat(&root)?;
        let mut dir_safety = self.check_dir(&root, &root_meta)?;
        let mut current = root;
        // Components still to resolve, in reverse (next one last).
        let mut pending: Vec<PathBuf> = components_reversed(self.given);
        let mut links_followed = 0;
        while let Some(component) = pending.pop() {
            let name = component.as_os_str();
            if name == OsStr::new("..") {
                // `current` has no symlinks in it, so its parent is the real parent,
                // which was checked on the way down.
                if current.pop() {
                    let meta = self.stat(&current)?;
                    dir_safety = self.check_dir(&current, &meta)?;
                }
                continue;
            }
            let candidate = current.join(name);
            let meta = self.stat(&candidate)?;
            if dir_safety.shared_sticky {
                // In a sticky shared directory, the entry's owner can rename or delete it.
                self.check_owner(&candidate, &meta, "entry")?;
            }
            let file_type = meta.file_type();
            if file_type.is_symlink() {
                links_followed += 1;
                if links_followed > MAX_SYMLINKS {
                    return Err(format!(
                        "{} has too many levels of symbolic links",
                        self.about(&candidate)
                    ));
                }
                let target = fs::read_link(&candidate).map_err(|e| {
                    format!(
                        "{} cannot read the symbolic link: {e}",
                        self.about(&candidate)
                    )
                })?;
                if target.is_absolute() {
                    current = PathBuf::from("/");
                    let meta = self.stat(&current)?;
                    dir_safety = self.check_dir(&current, &meta)?;
                }
                pending.extend(components_reversed(&target));
                continue;
            }
            if pending.is_empty() {
                return Ok(candidate);
            }
            if !file_type.is_dir() {
                return Err(format!("{} is not a directory", self.about(&candidate)));
            }
            dir_safety = self.check_dir(&candidate, &meta)?;
            current = candidate;
        }
        // The path was `/` (or ended in `..`).
        Ok(current)
    }

    fn check_dir(&self, dir: &Path, meta: &Metadata) -> Result<DirSafety, String> {
        self.check_owner(dir, meta, "directory")?;
        let about = self.about_as(dir, "directory");
        let mode = meta.mode();
        let sticky_root = mode & 0o1000 != 0 && meta.uid() == 0;
        let user = &self.run_as.user;
        if mode & 0o020 != 0 && meta.gid() != 0 && !sticky_root {
            let group = group_name(meta.gid());
            return Err(format!(
                "{} is writable by group {group}, so anyone in that group could \
                 put their own program in place of {} and make floatip run it as {user}; \
                 fix: chmod g-w {} (or chgrp root)",
                about,
                self.given.display(),
                dir.display()
            ));
        }
        if mode & 0o002 != 0 && !sticky_root {
            return Err(format!(
                "{} is writable by everyone, so anyone could put their own \
                 program in place of {} and make floatip run it as {user}; fix: chmod o-w \
                 {} (a world-writable directory is accepted only when it is sticky and \
                 owned by root, like /tmp)",
                about,
                self.given.display(),
                dir.display()
            ));
        }
        if !self.may(meta, 0o1) {
            return Err(format!(
                "{} cannot be entered by {user} (mode {:04o}, owner {}, group {}), so \
                 the command cannot run; fix: move the command where {user} can reach it \
                 (e.g. /usr/local/libexec/floatip/), or chmod o+x {}",
                about,
                mode & 0o7777,
                user_name(meta.uid()),
                group_name(meta.gid()),
                dir.display()
            ));
        }
        Ok(DirSafety {
            shared_sticky: sticky_root && mode & 0o022 != 0,
        })
    }

    fn check_owner(&self, path: &Path, meta: &Metadata, what: &str) -> Result<(), String> {
        let owner = meta.uid();
        if owner == 0 || owner == self.run_as.uid {
            return Ok(());
        }
        let user = &self.run_as.user;
        let fix = if meta.is_dir() {
            format!("chown root {}", path.display())
        } else {
            format!("chown -h root {}", path.display())
        };
        Err(format!(
            "{} is owned by {}, who could make floatip run their code as {user}; \
             fix: {fix} (only root or {user} may own it)",
            self.about_as(path, what),
            user_name(owner),
        ))
    }

    fn check_file(&self, path: &Path, meta: &Metadata) -> Result<(), String> {
        let file_type = meta.file_type();
        if !file_type.is_file() {
            let kind = if file_type.is_dir() {
                "a directory"
            } else if file_type.is_fifo() {
                "a FIFO"
            } else if file_type.is_socket() {
                "a socket"
            } else {
                "a device"
            };
            return Err(format!(
                "{} is {kind}, not a regular file",
                self.about(path)
            ));
        }
        self.check_owner(path, meta, "file")?;
        self.check_not_writable(path, meta)?;
        let mode = meta.mode();
        let user = &self.run_as.user;
        if !self.may(meta, 0o1) {
            return Err(format!(
                "{} is not executable by {user} (mode {:04o}, owner {}, group {}); fix: \
                 chmod +x {}",
                self.about(path),
                mode & 0o7777,
                user_name(meta.uid()),
                group_name(meta.gid()),
                path.display()
            ));
        }
        if !self.may(meta, 0o4) && starts_with_shebang(path) {
            return Err(format!(
                "{} is a script that {user} cannot read (mode {:04o}), so its interpreter \
                 cannot run it; fix: chmod +r {}",
                self.about(path),
                mode & 0o7777,
                path.display()
            ));
        }
        Ok(())
    }

    /// The file is writable by no one but its owner (root or `run_as`, checked before),
    /// or a group that is root's.
    fn check_not_writable(&self, path: &Path, meta: &Metadata) -> Result<(), String> {
        let mode = meta.mode();
        let user = &self.run_as.user;
        if mode & 0o020 != 0 && meta.gid() != 0 {
            return Err(format!(
                "{} is writable by group {}, so anyone in that group could make floatip \
                 run their code as {user}; fix: chmod g-w {} (or chgrp root)",
                self.about(path),
                group_name(meta.gid()),
                path.display()
            ));
        }
        if mode & 0o002 != 0 {
            return Err(format!(
                "{} is writable by everyone, so anyone could make floatip run their code \
                 as {user}; fix: chmod o-w {}",
                self.about(path),
                path.display()
            ));
        }
        Ok(())
    }

    /// Whether `run_as` has permission `bit` (0o4 read, 0o1 execute/search), by the
    /// class (owner, group, other) the kernel would pick. Root needs any x bit to
    /// execute and nothing else.
    fn may(&self, meta: &Metadata, bit: u32) -> bool {
        let mode = meta.mode();
        if self.run_as.uid == 0 {
            return bit != 0o1 || meta.is_dir() || mode & 0o111 != 0;
        }
        let shift = if meta.uid() == self.run_as.uid {
            6
        } else if meta.gid() == self.run_as.gid || self.run_as.groups.contains(&meta.gid()) {
            3
        } else {
            0
        };
        (mode >> shift) & bit != 0
    }
}

fn components_reversed(path: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(PathBuf::from(name)),
            Component::ParentDir => Some(PathBuf::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    out.reverse();
    out
}

fn starts_with_shebang(path: &Path) -> bool {
    let mut head = [0u8; 2];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|()| &head == b"#!")
        .unwrap_or(false)
}

fn user_name(uid: u32) -> String {
    match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(user)) => format!("uid {uid} ({})", user.name),
        _ => format!("uid {uid}"),
    }
}

fn group_name(gid: u32) -> String {
    match Group::from_gid(Gid::from_raw(gid)) {
        Ok(Some(group)) => format!("{gid} ({})", group.name),
        _ => gid.to_string(),
    }
}

/// Test helpers shared by the checkers and the modules that run commands.
#[cfg(test)]
pub(crate) mod test_support {
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::RunAs;

    /// A fresh directory under /tmp, mode 0755, removed (recursively) on drop.
    pub struct TempDir {
        path: PathBuf,
    }

    impl TempDir {
        pub fn new(label: &str) -> TempDir {
            static COUNTER: AtomicU32 = AtomicU32::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let path = PathBuf::from(format!(
                "/tmp/floatip-test-{label}-{}-{n}-{nanos}",
                std::process::id()
            ));
            std::fs::create_dir(&path).expect("create temp dir");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .expect("chmod temp dir");
            TempDir { path }
        }

        pub fn path(&self) -> &Path {
            &self.path
        }

        /// A subdirectory that `run_as` can write (owned by it).
        pub fn writable_by(&self, name: &str, run_as: &RunAs) -> PathBuf {
            let dir = self.path.join(name);
            std::fs::create_dir(&dir).expect("create subdir");
            std::os::unix::fs::chown(&dir, Some(run_as.uid), Some(run_as.gid))
                .expect("chown subdir");
            dir
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }

    pub fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    /// Tests that chown files or switch users need root; like the namespace tests, they
    /// fail (never skip) without it.
    pub fn require_root() {
        assert!(
            is_root(),
            "this test needs root (it chowns files and runs commands as nobody): run it with sudo"
        );
    }

    /// `nobody` as a `RunAs`.
    pub fn nobody() -> RunAs {
        super::lookup("nobody")
            .expect("look up nobody")
            .expect("nobody exists")
    }

    /// The user this process runs as.
    pub fn current_user() -> RunAs {
        let uid = nix::unistd::geteuid();
        let user = nix::unistd::User::from_uid(uid)
            .expect("look up current user")
            .expect("current user exists");
        super::lookup(&user.name)
            .expect("look up current user")
            .expect("current user exists")
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, chown, symlink};

    use super::test_support::{TempDir, nobody, require_root};
    use super::*;

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
    }

    /// An executable file owned by root, mode 0755.
    fn script(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, "#!/bin/sh\nexit 0\n").expect("write script");
        chmod(&path, 0o755);
        path
    }

    /// A uid/gid that is neither root nor nobody.
    const ALICE: u32 = 4242;

    #[test]
    fn resolves_named_default_and_missing_users() {
        let (run_as, warning) = resolve_user(Some("nobody")).expect("nobody");
        assert_eq!(run_as.user, "nobody");
        assert_eq!(run_as.uid, 65534);
        assert!(run_as.groups.contains(&run_as.gid), "{run_as:?}");
        assert!(warning.is_none());

        let err = resolve_user(Some("no-such-user-floatip-test")).unwrap_err();
        assert!(err.contains("no such user"), "{err}");

        let (run_as, warning) = resolve_user(None).expect("default");
        if User::from_name(DEFAULT_SCRIPT_USER)
            .ok()
            .flatten()
            .is_some()
        {
            assert_eq!(run_as.user, DEFAULT_SCRIPT_USER);
            assert!(warning.is_none());
        } else {
            assert_eq!(run_as.user, FALLBACK_SCRIPT_USER);
            let warning = warning.expect("a warning for the fallback");
            assert!(warning.contains("script_user"), "{warning}");
        }
    }

    #[test]
    fn accepts_system_binaries_through_symlinked_dirs() {
        // On Debian 12 /bin is a symlink to usr/bin: both chains are checked.
        check_executable(Path::new("/bin/sh"), &nobody()).expect("/bin/sh");
        check_executable(Path::new("/usr/bin/true"), &nobody()).expect("/usr/bin/true");
        check_executable(Path::new("/usr/bin/../bin/true"), &nobody()).expect("with ..");
    }

    #[test]
    fn refuses_relative_missing_and_non_files() {
        let nobody = nobody();
        let err = check_executable(Path::new("bin/sh"), &nobody).unwrap_err();
        assert!(err.contains("not an absolute path"), "{err}");
        let err = check_executable(Path::new("/nonexistent/check.sh"), &nobody).unwrap_err();
        assert!(err.contains("/nonexistent does not exist"), "{err}");
        let err = check_executable(Path::new("/usr/bin"), &nobody).unwrap_err();
        assert!(err.contains("a directory, not a regular file"), "{err}");
        let err = check_executable(Path::new("/etc/passwd/x"), &nobody).unwrap_err();
        assert!(err.contains("not a directory"), "{err}");
    }

    #[test]
    fn accepts_root_owned_script_in_tmp() {
        require_root();
        let dir = TempDir::new("sec-ok");
        let path = script(dir.path(), "check.sh");
        check_executable(&path, &nobody()).expect("root-owned 0755 under sticky /tmp");
    }

    #[test]
    fn an_interpreted_script_given_as_an_argument_is_checked_too() {
        require_root();
        let dir = TempDir::new("sec-arg");
        let path = dir.path().join("check.py");
        fs::write(&path, "print('ok')\n").expect("write script");
        chmod(&path, 0o644);
        check_argument(&path, &nobody()).expect("root-owned, not writable by others");
        chmod(&path, 0o666);
        let err = check_argument(&path, &nobody()).unwrap_err();
        assert!(err.contains("writable by everyone"), "{err}");
        std::os::unix::fs::chown(&path, Some(ALICE), None).expect("chown");
        chmod(&path, 0o644);
        let err = check_argument(&path, &nobody()).unwrap_err();
        assert!(err.contains("owned by"), "{err}");
        // Not code: options, missing paths and directories pass.
        check_argument(Path::new("/nonexistent/x"), &nobody()).expect("missing");
        check_argument(Path::new("/tmp"), &nobody()).expect("a directory");
    }

    #[test]
    fn refuses_file_owned_by_someone_else() {
        require_root();
        let dir = TempDir::new("sec-owner");
        let path = script(dir.path(), "check.sh");
        chown(&path, Some(ALICE), None).expect("chown");
        let err = check_executable(&path, &nobody()).unwrap_err();
        assert!(err.contains("is owned by uid 4242"), "{err}");
        assert!(err.contains("chown"), "{err}");
    }

    #[test]
    fn accepts_file_owned_by_the_script_user() {
        require_root();
        let nobody = nobody();
        let dir = TempDir::new("sec-self");
        let path = script(dir.path(), "check.sh");
        chown(&path, Some(nobody.uid), Some(nobody.gid)).expect("chown");
        chmod(&path, 0o700);
        check_executable(&path, &nobody).expect("owned by the user it runs as");
    }

    #[test]
    fn refuses_group_writable_file_unless_group_root() {
        require_root();
        let dir = TempDir::new("sec-gw");
        let path = script(dir.path(), "check.sh");
        chmod(&path, 0o775);
        check_executable(&path, &nobody()).expect("group root may write");
        chown(&path, None, Some(ALICE)).expect("chgrp");
        let err = check_executable(&path, &nobody()).unwrap_err();
        assert!(err.contains("writable by group 4242"), "{err}");
        assert!(err.contains("chmod g-w"), "{err}");
        assert!(err.contains("as nobody"), "{err}");
    }

    #[test]
    fn refuses_world_writable_file() {
        require_root();
        let dir = TempDir::new("sec-ow");
        let path = script(dir.path(), "check.sh");
        chmod(&path, 0o757);
        let err = check_executable(&path, &nobody()).unwrap_err();
        assert!(err.contains("writable by everyone"), "{err}");
        assert!(err.contains("chmod o-w"), "{err}");
    }

    #[test]
    fn refuses_unsafe_directories_on_the_way() {
        require_root();
        let dir = TempDir::new("sec-dir");
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).expect("mkdir");
        chmod(&sub, 0o755);
        let path = script(&sub, "check.sh");
        check_executable(&path, &nobody()).expect("safe chain");

        chmod(&sub, 0o777);
        let err = check_executable(&path, &nobody()).unwrap_err();
        assert!(err.contains("is writable by everyone"), "{err}");
        assert!(err.contains("/sub"), "{err}");

        // Sticky and root-owned, like /tmp: others cannot replace root's entries.
        chmod(&sub, 0o1777);
        check_executable(&path, &nobody()).expect("sticky root dir");
        // ... but an entry owned by someone else in it can be replaced by them.
        chown(&path, Some(ALICE), None).expect("chown");
        assert!(check_executable(&path, &nobody()).is_err());
        chown(&path, Some(0), None).expect("chown back");

        chmod(&sub, 0o775);
        chown(&sub, None, Some(ALICE)).expect("chgrp");
        let err = check_executable(&path, &nobody()).unwrap_err();
        assert!(err.contains("is writable by group 4242"), "{err}");

        chmod(&sub, 0o755);
        chown(&sub, Some(ALICE), None).expect("chown");
        let err = check_executable(&path, &nobody()).unwrap_err();
        assert!(err.contains("/sub is owned by uid 4242"), "{err}");
    }

    #[test]
    fn checks_both_the_link_and_its_target() {
        require_root();
        let dir = TempDir::new("sec-link");
        let bad = dir.path().join("bad");
        fs::create_dir(&bad).expect("mkdir");
        chmod(&bad, 0o777);
        let good = dir.path().join("good");
        fs::create_dir(&good).expect("mkdir");
        chmod(&good, 0o755);

        // A safe link to a target in an unsafe directory.
        let target = script(&bad, "real.sh");
        let link = good.join("check.sh");
        symlink(&target, &link).expect("symlink");
        let err = check_executable(&link, &nobody()).unwrap_err();
        assert!(err.contains("/bad is writable by everyone"), "{err}");

        // A link in an unsafe directory to a safe target.
        script(&good, "real.sh");
        let link = bad.join("check.sh");
        symlink("../good/real.sh", &link).expect("symlink");
        let err = check_executable(&link, &nobody()).unwrap_err();
        assert!(err.contains("/bad is writable by everyone"), "{err}");

        // A relative link in a safe directory to a safe target.
        let link = good.join("relative.sh");
        symlink("real.sh", &link).expect("symlink");
        check_executable(&link, &nobody()).expect("safe link");
    }

    #[test]
    fn refuses_what_the_user_cannot_run() {
        require_root();
        let dir = TempDir::new("sec-perm");
        let path = script(dir.path(), "check.sh");
        chmod(&path, 0o744);
        let err = check_executable(&path, &nobody()).unwrap_err();
        assert!(err.contains("not executable by nobody"), "{err}");
        chmod(&path, 0o711);
        let err = check_executable(&path, &nobody()).unwrap_err();
        assert!(err.contains("cannot read"), "{err}");

        chmod(&path, 0o755);
        let sub = dir.path().join("private");
        fs::create_dir(&sub).expect("mkdir");
        chmod(&sub, 0o700);
        let inner = script(&sub, "check.sh");
        let err = check_executable(&inner, &nobody()).unwrap_err();
        assert!(err.contains("cannot be entered by nobody"), "{err}");
    }

    #[test]
    fn counts_symlink_loops() {
        require_root();
        let dir = TempDir::new("sec-loop");
        symlink("b", dir.path().join("a")).expect("symlink");
        symlink("a", dir.path().join("b")).expect("symlink");
        let err = check_executable(&dir.path().join("a"), &nobody()).unwrap_err();
        assert!(err.contains("too many levels"), "{err}");
    }
}
