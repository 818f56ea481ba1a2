import sys

from sftlab.course.cli import main

sys.exit(main())
