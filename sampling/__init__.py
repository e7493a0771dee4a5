"""What gets coded: question sets (which posts) and the draws taken from them."""
