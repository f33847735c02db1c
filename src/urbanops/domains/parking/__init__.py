"""IoT shared parking: bays shared in time windows, reservations that never double-book."""
