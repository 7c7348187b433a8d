//! v2 has no devices controller: Docker's device rules ([`crate::cgroups::devices`]) become a
//! small eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE`, attached to the container's
//! cgroup, that the kernel runs at every open or mknod of a device node and that answers 1
//! (allow) or 0 (deny).
//!
//! The program is generated here instruction by instruction, as runc generates its own: it is
//! a dozen instructions per rule, and seeing them is the point of this part of the course.
//! Loading and attaching are two bpf(2) calls.

use crate::cgroups::devices::Rule;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    /// dst register in the low nibble, src in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

const LDX_MEM_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const ALU32_AND_K: u8 = 0x54; // dst &= imm
const ALU32_RSH_K: u8 = 0x74; // dst >>= imm
const ALU64_MOV_X: u8 = 0xbf; // dst = src
const ALU64_MOV_K: u8 = 0xb7; // dst = imm
const JMP_JNE_K: u8 = 0x55; // if dst != imm goto pc + off
const JMP_EXIT: u8 = 0x95;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

// The kernel's encoding of a device access (`struct bpf_cgroup_dev_ctx`).
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

/// The program for an allow list: it loads the access type, the access, the major and the
/// minor into r2..r5, then, for each rule, jumps over the rule's "return 1" as soon as one of
/// its conditions does not hold; after the last rule it returns 0.
pub fn program(allow: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),        // r2 = ctx->access_type
        insn(ALU32_AND_K, 2, 0, 0, 0xffff), // r2 = device type
        insn(LDX_MEM_W, 3, 1, 0, 0),        // r3 = ctx->access_type
        insn(ALU32_RSH_K, 3, 0, 0, 16),     // r3 = access bits
        insn(LDX_MEM_W, 4, 1, 4, 0),        // r4 = ctx->major
        insn(LDX_MEM_W, 5, 1, 8, 0),        // r5 = ctx->minor
    ];
    for rule in allow {
        let mut checks: Vec<Vec<Insn>> = Vec::new();
        match rule.kind {
            'c' => checks.push(vec![insn(JMP_JNE_K, 2, 0, 0, DEV_CHAR)]),
            'b' => checks.push(vec![insn(JMP_JNE_K, 2, 0, 0, DEV_BLOCK)]),
            _ => {}
        }
        let mut acc = 0;
        for c in rule.access.chars() {
            acc |= match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                _ => ACC_MKNOD,
            };
        }
        if acc != ACC_READ | ACC_WRITE | ACC_MKNOD {
            // Any access asked for that the rule does not grant: no match.
            checks.push(vec![
                insn(ALU64_MOV_X, 1, 3, 0, 0),
                insn(ALU32_AND_K, 1, 0, 0, !acc & 0xffff),
                insn(JMP_JNE_K, 1, 0, 0, 0),
            ]);
        }
        if let Some(m) = rule.major {
            checks.push(vec![insn(JMP_JNE_K, 4, 0, 0, m as i32)]);
        }
        if let Some(m) = rule.minor {
            checks.push(vec![insn(JMP_JNE_K, 5, 0, 0, m as i32)]);
        }
        let mut body: Vec<Insn> = checks.into_iter().flatten().collect();
        body.push(insn(ALU64_MOV_K, 0, 0, 0, 1));
        body.push(insn(JMP_EXIT, 0, 0, 0, 0));
        // Each failing check jumps to the first instruction after this rule.
        let len = body.len();
        for (i, ins) in body.iter_mut().enumerate() {
            if ins.code == JMP_JNE_K {
                ins.off = (len - i - 1) as i16;
            }
        }
        p.extend(body);
    }
    p.push(insn(ALU64_MOV_K, 0, 0, 0, 0));
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    p
}

/// `union bpf_attr` for BPF_PROG_LOAD, as far as we fill it (the kernel takes a shorter attr
/// as long as what it does not get would have been zero).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

fn bpf<T>(cmd: libc::c_long, attr: &T) -> io::Result<i32> {
    // SAFETY: `attr` is a repr(C) prefix of `union bpf_attr` for `cmd`, alive for the call,
    // and its size is passed along.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *const T,
            std::mem::size_of::<T>() as u32,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r as i32)
}

/// Load the program for `allow` and attach it to the cgroup v2 directory `cgroup`.
pub fn attach(cgroup: &Path, allow: &[Rule]) -> io::Result<()> {
    let insns = program(allow);
    let license = b"Apache-2.0\0";
    let load = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    let prog = match bpf(BPF_PROG_LOAD, &load) {
        Ok(fd) => fd,
        Err(e) => {
            // Load once more with the verifier's log, to say why.
            let mut log = vec![0u8; 1 << 16];
            let verbose = ProgLoadAttr {
                log_level: 1,
                log_size: log.len() as u32,
                log_buf: log.as_mut_ptr() as u64,
                ..load
            };
            let _ = bpf(BPF_PROG_LOAD, &verbose);
            let text = String::from_utf8_lossy(&log);
            let tail: String = text
                .trim_end_matches('\0')
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join(" / ");
            return Err(io::Error::new(
                e.kind(),
                format!("loading the device filter: {e}: {tail}"),
            ));
        }
    };
    // SAFETY: BPF_PROG_LOAD returned a new fd that nothing else owns.
    let prog = unsafe { OwnedFd::from_raw_fd(prog) };
    let dir = std::fs::File::open(cgroup)?;
    let attach = ProgAttachAttr {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &attach)
        .map_err(|e| io::Error::new(e.kind(), format!("attaching the device filter: {e}")))?;
    // The cgroup now holds the program; our fd can go.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::devices::default_rules;

    #[test]
    fn the_default_program_snapshot() {
        let text: Vec<String> = program(&default_rules())
            .iter()
            .map(|i| {
                format!(
                    "{:02x} dst=r{} src=r{} off={} imm={:#x}",
                    i.code,
                    i.regs & 0xf,
                    i.regs >> 4,
                    i.off,
                    i.imm
                )
            })
            .collect();
        insta::assert_snapshot!(text.join("\n"));
    }

    fn cgroup2_mount() -> Option<std::path::PathBuf> {
        let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        info.lines().find_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            (post.split_whitespace().next() == Some("cgroup2"))
                .then(|| pre.split_whitespace().nth(4).map(std::path::PathBuf::from))
                .flatten()
        })
    }

    /// As root, on any host with a cgroup2 mount (on a v1 host, the hybrid `unified` tree): a
    /// child in a cgroup with the default program may open /dev/null, not a disk.
    #[test]
    fn the_program_allows_null_and_denies_a_disk() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let Some(mount) = cgroup2_mount() else {
            eprintln!("skipped: no cgroup2 mount");
            return;
        };
        let cg = mount.join(format!("berth-devtest-{}", std::process::id()));
        std::fs::create_dir(&cg).unwrap();
        attach(&cg, &default_rules()).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let disk = tmp.path().join("loop-like");
        nix::sys::stat::mknod(
            &disk,
            nix::sys::stat::SFlag::S_IFBLK,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            nix::sys::stat::makedev(7, 200),
        )
        .unwrap();
        let procs = std::ffi::CString::new(cg.join("cgroup.procs").to_str().unwrap()).unwrap();
        let null = std::ffi::CString::new("/dev/null").unwrap();
        let disk_c = std::ffi::CString::new(disk.to_str().unwrap()).unwrap();
        // SAFETY: the child makes raw system calls only, then _exit.
        let code = match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => unsafe {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                let pid = b"0";
                let joined = fd >= 0 && libc::write(fd, pid.as_ptr().cast(), 1) == 1;
                let ok_null = libc::open(null.as_ptr(), libc::O_RDONLY) >= 0;
                let disk_fd = libc::open(disk_c.as_ptr(), libc::O_RDONLY);
                let denied = disk_fd < 0 && *libc::__errno_location() == libc::EPERM;
                libc::_exit(if !joined {
                    10
                } else if !ok_null {
                    11
                } else if !denied {
                    12
                } else {
                    0
                })
            },
            nix::unistd::ForkResult::Parent { child } => {
                match nix::sys::wait::waitpid(child, None).unwrap() {
                    nix::sys::wait::WaitStatus::Exited(_, c) => c,
                    other => panic!("{other:?}"),
                }
            }
        };
        let _ = std::fs::remove_dir(&cg);
        assert_eq!(code, 0, "10: join, 11: /dev/null refused, 12: disk allowed");
    }
}
