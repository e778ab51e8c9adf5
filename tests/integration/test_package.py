"""The Debian package (issue 12): built from a copy of the tree with dpkg-buildpackage, it
holds the binary, the configuration as a conffile, the systemd unit and the man page; it
installs with dpkg on this machine, its `mymux --check-config` passes on the configuration
it ships, and its binary serves the test bed; it purges cleanly. Installing needs root (CI
runs as root); without it the install tests are skipped."""

import os
import re
import shutil
import subprocess
import tempfile

import pytest

import testbed

pytestmark = pytest.mark.proxy_only

NAME = "mymux"


def project_version():
    with open(os.path.join(testbed.REPO, "CMakeLists.txt")) as f:
        return re.search(r"project\(mymux VERSION (\S+)", f.read()).group(1)


@pytest.fixture(scope="module")
def deb():
    if not shutil.which("dpkg-buildpackage"):
        pytest.fail("dpkg-buildpackage not installed (scripts/install-deps.sh installs it)")
    top = tempfile.mkdtemp(prefix="mymux-deb-")
    src = os.path.join(top, NAME)
    # the tree as git sees it (tracked and new files, nothing ignored such as build/)
    files = subprocess.run(["git", "-C", testbed.REPO, "ls-files", "-z", "-co",
                            "--exclude-standard"], capture_output=True, check=True,
                           timeout=60).stdout.decode().split("\0")
    for rel in filter(None, files):
        if not os.path.lexists(os.path.join(testbed.REPO, rel)):
            continue  # deleted in the work tree, not yet in the index
        os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
        shutil.copy2(os.path.join(testbed.REPO, rel), os.path.join(src, rel),
                     follow_symlinks=False)
    env = {**os.environ, "DEB_BUILD_OPTIONS": f"nocheck parallel={os.cpu_count() or 2}"}
    r = subprocess.run(["dpkg-buildpackage", "-b", "-us", "-uc"], cwd=src, env=env,
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    path = os.path.join(top, f"{NAME}_{project_version()}_{arch()}.deb")
    assert os.path.isfile(path), os.listdir(top)
    yield path
    shutil.rmtree(top, ignore_errors=True)


def arch():
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()


def field(path, name):
    return subprocess.run(["dpkg-deb", "-f", path, name], capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()


def test_package_holds_binary_conffile_unit_and_man_page(deb):
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True,
                             check=True, timeout=30).stdout
    paths = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    for p in ("/usr/sbin/mymux", "/etc/mymux/mymux.yaml", "/lib/systemd/system/mymux.service",
              "/usr/share/man/man8/mymux.8.gz", "/usr/share/doc/mymux/mymux.yaml.example.gz"):
        assert p in paths, (p, sorted(paths))
    ctl = tempfile.mkdtemp(prefix="mymux-debctl-")
    try:
        subprocess.run(["dpkg-deb", "-e", deb, ctl], check=True, timeout=30)
        with open(os.path.join(ctl, "conffiles")) as f:
            assert "/etc/mymux/mymux.yaml" in f.read().split()  # an edited one survives upgrades
        with open(os.path.join(ctl, "postinst")) as f:
            postinst = f.read()
        assert "deb-systemd-helper enable 'mymux.service'" in postinst
        # an upgrade hands the running service over to the new binary instead of a restart
        assert "--signal=SIGUSR2 mymux.service" in postinst
        assert "_dh_action=restart" not in postinst  # debhelper's own restart is off
    finally:
        shutil.rmtree(ctl, ignore_errors=True)
    assert field(deb, "Version") == project_version()
    depends = field(deb, "Depends")
    for lib in ("libuv1", "libssl3", "libsystemd0", "libmicrohttpd12", "libjansson4"):
        assert lib in depends, depends


@pytest.fixture(scope="module")
def installed(deb):
    if os.geteuid() != 0:
        pytest.skip("installing a package needs root")
    before = subprocess.run(["dpkg-query", "-W", "-f=${Status}", NAME], capture_output=True,
                            text=True, timeout=30).stdout
    r = subprocess.run(["dpkg", "-i", deb], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if r.returncode != 0 and "install ok installed" not in before:
        subprocess.run(["dpkg", "--purge", NAME], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    yield "/usr/sbin/mymux"
    if "install ok installed" not in before:  # leave the machine as it was
        r = subprocess.run(["dpkg", "--purge", NAME], capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        assert not os.path.exists("/usr/sbin/mymux")
        assert not os.path.exists("/etc/mymux/mymux.yaml")


def test_installed_package_checks_its_shipped_configuration(installed):
    status = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", NAME],
                            capture_output=True, text=True, timeout=30).stdout
    assert status == f"install ok installed {project_version()}", status
    r = subprocess.run([installed, "--check-config", "-c", "/etc/mymux/mymux.yaml"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "configuration OK" in r.stdout
    r = subprocess.run(["man", "-w", "mymux"], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "/usr/share/man/man8/mymux.8.gz", r.stdout + r.stderr
    with open("/lib/systemd/system/mymux.service") as f:
        unit = f.read()
    assert re.search(r"^ExecStart=/usr/sbin/mymux -c /etc/mymux/mymux.yaml$", unit, re.M), unit
    assert re.search(r"^Type=notify$", unit, re.M)


def test_package_upgrade_keeps_an_edited_configuration(installed, deb):
    with open("/etc/mymux/mymux.yaml", "a") as f:
        f.write("# edited by the operator\n")
    r = subprocess.run(["dpkg", "-i", "--force-confold", deb], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    assert r.returncode == 0, r.stdout + r.stderr
    with open("/etc/mymux/mymux.yaml") as f:
        assert f.read().endswith("# edited by the operator\n")
    r = subprocess.run([installed, "--check-config", "-c", "/etc/mymux/mymux.yaml"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_installed_package_serves_the_test_bed(installed, backends):
    m = testbed.Mymux(testbed.default_config(backends, 0), binary=installed,
                      name="mymux-deb").start()
    try:
        c = m.connect()
        with c.cursor() as cur:
            cur.execute("SELECT @@port")
            assert cur.fetchone()[0] == backends[0].port
        c.close()
    finally:
        testbed.assert_clean_log(m.stop(), "packaged mymux")
