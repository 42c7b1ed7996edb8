"""One options type for sysdig_capture: CaptureParams built from the module's parameters, defaults once."""

from __future__ import annotations

import dataclasses

from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig import command
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.capture import DEFAULT_FORMAT, CaptureParams
from ansible_collections.nodesec.kubernetes.plugins.module_utils.sysdig.errors import no_driver_message
from ansible_collections.nodesec.kubernetes.plugins.modules import sysdig_capture


def test_from_params_takes_every_field_and_leaves_the_rest():
    params = {f.name: None for f in dataclasses.fields(CaptureParams)}
    params.update(pod_name="nginx", duration=5, format="*%proc.name", output_limit=10, executable="/usr/bin/sysdig")
    built = CaptureParams.from_params(params)
    assert built.pod_name == "nginx" and built.duration == 5 and built.output_limit == 10
    assert not hasattr(built, "executable")


def test_module_defaults_are_the_options_defaults():
    assert CaptureParams.format == DEFAULT_FORMAT
    assert CaptureParams.output_limit == 4 * 1024 * 1024
    assert CaptureParams().validate is True


def test_build_command_takes_the_options():
    argv = command.build_command("sysdig", CaptureParams(duration=3, snaplen=80), "proc.name=curl", "*%proc.name")
    assert argv == ["sysdig", "-M", "3", "-s", "80", "-p", "*%proc.name", "proc.name=curl"]


def test_the_module_finds_the_os_family_of_this_node():
    family = sysdig_capture.os_family()
    assert family  # Debian here; the hint below depends on it
    hint = no_driver_message("error opening device /dev/scap0.", "RedHat", True)
    assert "on RedHat use the vendor package" in hint
    assert "use the vendor package" not in no_driver_message("error opening device /dev/scap0.", family, True)
