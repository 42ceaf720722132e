"""qiki_bag: record, play and inspect rosbag2 (MCAP) bags of the QIKI graph (see qiki_bag.commands)."""
