"""People in the frame: detection pass, crops around each person, tracking across frames, and which way each one faces."""
