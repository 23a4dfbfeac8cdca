"""Made-up names, products and titles for the million-order database (`bench/million.py`)."""

from __future__ import annotations

FIRST_NAMES = ["Jane", "Pat", "Sam", "Alex", "Chris", "Jordan", "Taylor", "Morgan", "Priya",
               "Wei", "Fatima", "Liam", "Olivia", "Noah", "Ava", "Mateo", "Aisha", "Hiro",
               "Zara", "Lucas", "Emma", "Jack", "Chloe", "Ethan", "Grace", "Ryan", "Mei",
               "Omar", "Sofia", "Daniel", "Hannah", "Arjun", "Leila", "Tom", "Nina", "Ben",
               "Anna", "Raj", "Sarah", "Kenji", "Lucy", "Marco", "Amira", "James", "Isabel",
               "Tariq", "Ella", "Luca", "Yuki", "David"]  # fmt: skip
LAST_NAMES = ["Citizen", "Nguyen", "Smith", "Patel", "Chen", "Williams", "Brown", "Singh",
              "Kim", "Garcia", "Jones", "Ali", "Taylor", "Wilson", "Martin", "Lee", "Khan",
              "Rossi", "Murphy", "Cohen", "Tran", "Wang", "Zhang", "Liu", "Anderson", "Thomas",
              "White", "Harris", "Clarke", "Walker", "Young", "King", "Wright", "Scott",
              "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts",
              "Carter", "Phillips", "Evans", "Turner", "Torres", "Parker", "Collins",
              "Edwards", "Stewart", "Morris", "Nakamura", "Rogers", "Reed", "Cook", "Morgan",
              "Bell", "Kelly", "Howard", "Ward", "Cox", "Diaz", "Richardson", "Wood",
              "Watson", "Brooks", "Bennett", "Gray", "James", "Reyes", "Cruz", "Hughes",
              "Price", "Myers", "Long", "Foster", "Sanders", "Ross", "Morales", "Powell",
              "Sullivan", "Russell", "Ortiz", "Jenkins", "Gutierrez", "Perry", "Butler",
              "Barnes", "Fisher", "Henderson", "Coleman", "Simmons", "Patterson", "Jordan",
              "Reynolds", "Hamilton", "Graham", "Kowalski", "Papadopoulos"]  # fmt: skip
DOMAINS = ["gmail.com", "outlook.com", "bigpond.com", "icloud.com", "yahoo.com.au",
           "optusnet.com.au", "hotmail.com", "example.com"]  # fmt: skip
CHILD_NAMES = ["Mia", "Leo", "Ada", "Max", "Ivy", "Kai", "Zoe", "Eli", "Nia", "Oscar", "Ruby",
               "Finn", "Luna", "Theo", "Isla", "Jack", "Aria", "Ezra", "Maya", "Sol"]  # fmt: skip
NOTES = ["nut allergy", "asthma: inhaler in bag", "vegetarian", "collected by grandma",
         "shy at first", "coeliac"]  # fmt: skip
CAMPS = ["summer-robotics", "summer-minecraft-coding", "summer-space-engineers",
         "summer-game-design", "summer-young-inventors", "autumn-robotics",
         "autumn-3d-printing", "autumn-coding-adventures", "autumn-slime-science"]  # fmt: skip
PARTIES = ["robot-rampage-party", "slime-lab-party"]
IGNITE = ["ignite-coding-monday", "ignite-robotics-wednesday", "ignite-engineering-thursday"]


def sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def pick(values: list[str], seed: str) -> str:
    """A deterministic pick from `values` by the hash of the SQL expression `seed`."""
    return f"{sql_list(values)}[1 + (hash({seed}) % {len(values)})::INTEGER]"


TITLES = {"summer-robotics": "Robotics Bootcamp",
          "summer-minecraft-coding": "Minecraft Coding Quest",
          "summer-space-engineers": "Space Engineers", "summer-game-design": "Game Design Studio",
          "summer-young-inventors": "Young Inventors", "autumn-robotics": "Robot Wars Junior",
          "autumn-3d-printing": "3D Design and Print",
          "autumn-coding-adventures": "Coding Adventures",
          "autumn-slime-science": "Slime and Chemistry Lab",
          "robot-rampage-party": "Robot Rampage Party", "slime-lab-party": "Slime Lab Party",
          "ignite-coding-monday": "Ignite Coding (Monday)",
          "ignite-robotics-wednesday": "Ignite Robotics (Wednesday)",
          "ignite-engineering-thursday": "Ignite Engineering (Thursday)"}  # fmt: skip


def titles_of(column: str) -> str:
    cases = " ".join(f"WHEN '{product}' THEN '{title}'" for product, title in TITLES.items())
    return f"CASE {column} {cases} END"
