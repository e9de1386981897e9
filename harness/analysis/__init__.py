"""What a boot log means: pinning of hotplug marks, replay, simulation, golden files."""
