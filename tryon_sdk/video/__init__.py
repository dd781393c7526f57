"""Video: decoding and encoding, the session that smooths and fixes limb sides over time, the file job, and video metrics."""
