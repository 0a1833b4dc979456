"""structuring"""
