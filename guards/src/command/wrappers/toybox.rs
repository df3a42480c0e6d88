//! toybox's multiplexer (`main.c`, `toybox_main`): the applet it runs for its first operand,
//! which may be a symbolic link it follows.

use super::Runs;
use crate::command::{Word, basename};

/// The applets toybox has that its multiplexer runs, separated by spaces (every `NEWTOY` and
/// `OLDTOY` of its `toys/` but the examples, as of 2026; the shell's builtins, flagged
/// `TOYFLAG_NOFORK`, are not run from there: for them it looks for a link as for an unknown
/// name).
const APPLETS: &str = "\
    -bash -sh -toysh [ acpi addgroup adduser arch arp arping ascii awk base32 base64 basename \
    bash bc blkdiscard blkid blockdev bootchartd brctl bunzip2 bzcat cal cat chattr chcon \
    chgrp chmod chown chroot chrt chsh chvt cksum clear cmp comm count cp cpio crc32 crond \
    crontab csplit cut date dd deallocvt delgroup deluser devmem df dhcp dhcp6 dhcpd diff \
    dirname dmesg dnsdomainname dos2unix du dumpleases echo egrep eject env expand expr factor \
    fallocate false fdisk fgrep file find flock fmt fold free freeramdisk fsck fsfreeze fstype \
    fsync ftpget ftpput getconf getenforce getfattr getopt getty gitcheckout gitclone gitfetch \
    gitinit gitremote gpiodetect gpiofind gpioget gpioinfo gpioset grep groupadd groupdel \
    groups gunzip gzip halt hd head help hexdump hexedit host hostname httpd hwclock i2cdetect \
    i2cdump i2cget i2cset i2ctransfer iconv id ifconfig init inotifyd insmod install ionice \
    iorenice iotop ip ipaddr ipcrm ipcs iplink iproute iprule iptunnel kill killall killall5 \
    klogd last link linux32 ln load_policy log logger login logname losetup ls lsattr lsmod \
    lsof lspci lsusb makedevs man mcookie md5sum mdev memeater microcom mix mkdir mkfifo mknod \
    mkpasswd mkswap mktemp modinfo modprobe more mount mountpoint mv nbd-client nbd-server \
    nbd_client nbd_server nc netcat netstat nice nl nohup nologin nproc nsenter od oneit \
    openvt partprobe passwd paste patch pgrep pidof ping ping6 pivot_root pkill pmap poweroff \
    printenv printf prlimit ps pwd pwdx pwgen readahead readelf readlink realpath reboot \
    renice reset restorecon rev rfkill rm rmdir rmmod route rtcwake runcon sed sendevent seq \
    setenforce setfattr setsid sh sha1sum sha224sum sha256sum sha384sum sha3sum sha512sum \
    shred shuf sleep sntp sort split stat strace strings stty su sulogin swapoff swapon \
    switch_root sync sysctl syslogd tac tail tar taskset tcpsvd tee telnet telnetd test tftp \
    tftpd time timeout top touch toysh tr traceroute traceroute6 true truncate ts tsort tty \
    tunctl uclampset udpsvd ulimit umount uname unicode uniq unix2dos unlink unshare uptime \
    useradd userdel usleep uudecode uuencode uuidgen vconfig vi vmstat w watch watchdog wc \
    wget which who whoami xargs xxd xzcat yes zcat";

/// Where toybox reads the name of the applet it runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Named {
    /// Its `argv[0]`, where a name starting with `toybox` is the multiplexer itself.
    Argv0,
    /// Its first operand, where only an applet's exact name is that applet (0.8.3 on).
    Operand,
}

/// Refuses `command`, run by toybox, when toybox could run it through a symbolic link: it
/// looks the basename of its first word up among its applets, and when that names none,
/// reads that word as a symbolic link and looks up the basename of its target, link after
/// link. Where a link leads is known only when it runs. A name starting with `toybox` is the
/// multiplexer only in `argv[0]`: from 0.8.3 a first operand so named (`toybox ./toybox x`,
/// `toybox toybox-rm x`) is followed as a link too, as any name that is no applet.
pub(super) fn follows(command: &[Word], named: Named) -> Result<(), Runs> {
    let Some(word) = command.first().and_then(Word::literal) else {
        return Ok(());
    };
    let name = basename(word);
    let itself = named == Named::Argv0 && name.starts_with("toybox");
    if itself || APPLETS.split_whitespace().any(|applet| applet == name) {
        return Ok(());
    }
    Err(Runs::refused(format!(
        "`toybox {word}` runs the applet `{word}` links to if it is a symbolic link, which is known only at run time (`{name}` is no applet toybox runs): name the applet"
    )))
}
